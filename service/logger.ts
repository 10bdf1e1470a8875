// Structured JSON logs, one line per event; credentials are redacted wherever they appear.
import pino, { type Logger } from "pino";

export function createLogger(level = "info", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "mlflow2seldon" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          "*.token",
          "*.password",
          "*.authorization",
          "*.Authorization",
          "mlflow.token",
          "mlflow.password",
          "*.secret",
        ],
        censor: "[redacted]",
      },
    },
    // Synchronous writes: the process exits right after its last line and must not lose it.
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
export type { Logger };
