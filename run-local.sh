#!/usr/bin/env bash
# Builds Atelier and runs the whole stack on this machine: PostgreSQL (data kept in .atelier/),
# gateway on 8080, ledger on 8081, executor on 8082 (Ollama at localhost:11434, ComfyUI at localhost:8188).
# Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")"
./mvnw -B -q package -DskipTests
exec java -jar launcher/target/atelier-launcher.jar "$PWD"
