// Waiting helpers for tests and the benchmark that run real processes: a free loopback port for a
// service to listen on, and polling until a condition holds.
export { freePort } from "../../testbed/free-port";
export { eventually } from "../../testbed/eventually";
