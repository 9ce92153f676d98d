// Package deploy holds mizan's deployment artefacts — kustomize bases and overlays, the Grafana dashboard, the
// Prometheus alerting rules and the docker compose file — and the tests that check them: every manifest
// rendered with kustomize and decoded strictly into its Kubernetes API type, the commands checked against the
// binaries' own usage, the environment against the configuration contract, the dashboard's SQL run against a
// migrated database, the rules' and the dashboard's PromQL parsed and held to the series the commands
// register, and the Dockerfile's build run as CI runs it. It has no Go code of its own.
package deploy
