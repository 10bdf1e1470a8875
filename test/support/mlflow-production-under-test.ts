// The files of the MLflow matrix's second project talk to the production-shaped MLflow server
// (test/support/mlflow.ts, mlflowUnderTest).
process.env.M2S_TEST_MLFLOW = "production";
