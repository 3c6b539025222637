#!/usr/bin/env bash
# Register AesFormer on a Prefect server: work pools, their concurrency limits, the variables
# the pull steps read, and every deployment of prefect.yaml. Idempotent (re-run to update).
#
#   PREFECT_API_URL=http://127.0.0.1:4200/api infra/prefect/register.sh        # `make deploy`
#
# Settings (environment):
#   POOL_TYPE      process (local, compose, tests) | kubernetes (infra/prefect/kubernetes-gpu.json)
#   GPU_SLOTS      flow runs the GPU pool runs at once = GPUs available / GPUs per run (default 1)
#   CPU_SLOTS      flow runs the CPU pool runs at once (default 4)
#   GIT_REPOSITORY repository the pull steps clone (default: `git remote get-url origin`)
#   GIT_COMMIT     commit they check out (default: HEAD; must be pushed to GIT_REPOSITORY)
#   DEPLOYMENTS    names to deploy (default: all of prefect.yaml)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${PREFECT_API_URL:?set PREFECT_API_URL to the Prefect server (e.g. http://127.0.0.1:4200/api)}"
POOL_TYPE=${POOL_TYPE:-process}
GPU_SLOTS=${GPU_SLOTS:-1}
CPU_SLOTS=${CPU_SLOTS:-4}
GIT_REPOSITORY=${GIT_REPOSITORY:-$(git remote get-url origin)}
GIT_COMMIT=${GIT_COMMIT:-$(git rev-parse HEAD)}

gpu_template=()
if [[ "$POOL_TYPE" == kubernetes ]]; then
  gpu_template=(--base-job-template infra/prefect/kubernetes-gpu.json)
fi
prefect work-pool create aesformer-cpu --type "$POOL_TYPE" --overwrite
prefect work-pool create aesformer-gpu --type "$POOL_TYPE" --overwrite "${gpu_template[@]}"
prefect work-pool set-concurrency-limit aesformer-cpu "$CPU_SLOTS"
prefect work-pool set-concurrency-limit aesformer-gpu "$GPU_SLOTS"

prefect variable set aesformer_git_repository "$GIT_REPOSITORY" --overwrite
prefect variable set aesformer_git_commit "$GIT_COMMIT" --overwrite

if [[ -n "${DEPLOYMENTS:-}" ]]; then
  names=()
  for name in $DEPLOYMENTS; do names+=(--name "$name"); done
  prefect --no-prompt deploy "${names[@]}"
else
  prefect --no-prompt deploy --all
fi
