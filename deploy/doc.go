// Package deploy holds mizan's deployment artefacts — kustomize bases and overlays, the Grafana dashboard and
// the docker compose file — and the tests that check them: every manifest rendered with kustomize and
// decoded strictly into its Kubernetes API type, the commands checked against the binaries' own usage, the
// environment against the configuration contract, the dashboard's SQL run against a migrated database, and
// the Dockerfile's build run as CI runs it. It has no Go code of its own.
package deploy
