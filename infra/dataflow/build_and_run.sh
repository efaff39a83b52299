#!/usr/bin/env bash
# Builds Genloom's Dataflow Flex Template (dev.genloom.pipelines.GeneratePipeline) and launches it.
# Run `infra/dataflow/build_and_run.sh --help` for the commands and variables.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
stage_dir="$here/target/template"

usage() {
  cat <<'EOF'
Usage: infra/dataflow/build_and_run.sh [NAME=VALUE | --name=value]... COMMAND... [-- GCLOUD_RUN_FLAG...]

Commands, run in the order given:
  stage      build the pipelines jar and copy its runtime dependencies (without the Flink runner)
             to infra/dataflow/target/template; needs a JDK 17 and Maven 3.8+
  image      build and push the launcher image IMAGE from that folder with infra/dataflow/Dockerfile:
             with the local Docker engine when one answers, else with Cloud Build
  template   write the template spec TEMPLATE: gcloud dataflow flex-template build, with
             infra/dataflow/metadata.json (the parameters are GeneratePipelineOptions)
  run        launch a job from TEMPLATE: gcloud dataflow flex-template run
  all        stage image template run

Variables (from the environment, or given as NAME=value / --name=value arguments):
  PROJECT      Google Cloud project (default: gcloud config get-value project)
  REGION       Dataflow region and Artifact Registry location (default: us-central1)
  BUCKET       Cloud Storage bucket, without gs://, for the template spec, staging and temp files
  IMAGE        launcher image (default: REGION-docker.pkg.dev/PROJECT/genloom/genloom-generate-launcher:0.1.0)
  TEMPLATE     template spec (default: gs://BUCKET/templates/genloom-generate.json)
  run only:
  PROMPTS      prompt file or pattern, e.g. gs://BUCKET/prompts/prompts.txt        (required)
  OUT          output directory, e.g. gs://BUCKET/runs/first                        (required)
  WORKERS      worker addresses host:port[,host:port...] reachable from Dataflow VMs (required)
  PARAMS       more template parameters separated by '~', e.g. 'seeds=4~grid=gs://BUCKET/grid.json'
  JOB_NAME     (default: genloom-generate-<UTC timestamp>)
  NETWORK, SUBNETWORK, SERVICE_ACCOUNT, MAX_WORKERS, WORKER_MACHINE_TYPE
               passed to gcloud when set; the workers' network must reach the worker fleet
  ADDITIONAL_EXPERIMENTS, ADDITIONAL_PIPELINE_OPTIONS
               passed as --additional-experiments / --additional-pipeline-options when set
  Everything after `--` goes to `gcloud dataflow flex-template run` unchanged.
Other:
  MVN_FLAGS    extra Maven flags for `stage` (e.g. -o)
  DRY_RUN=1    print the gcloud/docker commands instead of running them

Example:
  infra/dataflow/build_and_run.sh PROJECT=my-project BUCKET=my-bucket all \
    PROMPTS=gs://my-bucket/prompts.txt OUT=gs://my-bucket/runs/1 WORKERS=10.8.0.12:50051,10.8.0.13:50051
(assignments may come anywhere on the line; they are read before any command runs).
See infra/dataflow/README.md and docs/DEPLOY.md.
EOF
}

die() {
  echo "build_and_run: $*" >&2
  exit 1
}

# Prints a command (shell-quoted) and runs it, or only prints it with DRY_RUN=1.
run_cmd() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [ "${DRY_RUN:-0}" != 1 ]; then
    "$@"
  fi
}

commands=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help | help)
      usage
      exit 0
      ;;
    --)
      shift
      extra=("$@")
      break
      ;;
    --*=*)
      name=${1%%=*}
      name=${name#--}
      name=$(printf '%s' "$name" | tr 'a-z-' 'A-Z_')
      export "$name=${1#*=}"
      ;;
    [A-Z]*=*)
      export "${1%%=*}=${1#*=}"
      ;;
    stage | image | template | run)
      commands+=("$1")
      ;;
    all)
      commands+=(stage image template run)
      ;;
    *)
      usage >&2
      die "unknown argument: $1"
      ;;
  esac
  shift
done
[ ${#commands[@]} -gt 0 ] || {
  usage >&2
  die "no command given"
}

REGION=${REGION:-us-central1}

need_project() {
  if [ -z "${PROJECT:-}" ]; then
    PROJECT=$(gcloud config get-value project 2>/dev/null || true)
  fi
  [ -n "${PROJECT:-}" ] || die "PROJECT is not set (and gcloud has no default project)"
}

need_image() {
  if [ -z "${IMAGE:-}" ]; then
    need_project
    IMAGE="$REGION-docker.pkg.dev/$PROJECT/genloom/genloom-generate-launcher:0.1.0"
  fi
}

need_template() {
  if [ -z "${TEMPLATE:-}" ]; then
    [ -n "${BUCKET:-}" ] || die "BUCKET (or TEMPLATE) is not set"
    TEMPLATE="gs://${BUCKET#gs://}/templates/genloom-generate.json"
  fi
  case "$TEMPLATE" in gs://*) ;; *) die "TEMPLATE must be a gs:// path: $TEMPLATE" ;; esac
}

do_stage() {
  command -v mvn >/dev/null || die "mvn not found (install a JDK 17 and Maven 3.8+)"
  local deps="$root/pipelines/target/dependency"
  rm -rf "$deps"
  # -am also builds the modules the pipelines tests use; copy-dependencies writes each module's
  # runtime dependencies to its own target/dependency, and only the pipelines one is used.
  # shellcheck disable=SC2086 # MVN_FLAGS is a list of flags
  (cd "$root" && run_cmd mvn -B -q ${MVN_FLAGS:-} -DskipTests -pl pipelines -am package \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DexcludeGroupIds=org.apache.flink -DexcludeArtifactIds=beam-runners-flink-1.19)
  [ "${DRY_RUN:-0}" = 1 ] && return 0
  local jars=("$root"/pipelines/target/genloom-pipelines-*.jar)
  if [ ${#jars[@]} -ne 1 ] || [ ! -f "${jars[0]}" ]; then
    die "expected one pipelines/target/genloom-pipelines-*.jar"
  fi
  rm -rf "$stage_dir"
  mkdir -p "$stage_dir/lib"
  cp "${jars[0]}" "$stage_dir/genloom-pipelines.jar"
  cp "$deps"/*.jar "$stage_dir/lib/"
  # Cloud Build wants the Dockerfile inside the folder it uploads.
  cp "$here/Dockerfile" "$stage_dir/Dockerfile"
  echo "staged $(find "$stage_dir/lib" -name '*.jar' | wc -l) jars + genloom-pipelines.jar in $stage_dir ($(du -sh "$stage_dir" | cut -f1))"
}

do_image() {
  need_image
  [ "${DRY_RUN:-0}" = 1 ] || [ -f "$stage_dir/genloom-pipelines.jar" ] || die "nothing staged; run the stage command first"
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    run_cmd docker build -f "$here/Dockerfile" -t "$IMAGE" "$stage_dir"
    run_cmd docker push "$IMAGE"
  else
    echo "no Docker engine answers; building with Cloud Build"
    need_project
    run_cmd gcloud builds submit "$stage_dir" --project="$PROJECT" --tag="$IMAGE"
  fi
}

do_template() {
  need_image
  need_template
  need_project
  run_cmd gcloud dataflow flex-template build "$TEMPLATE" --project="$PROJECT" --image="$IMAGE" \
    --sdk-language=JAVA --metadata-file="$here/metadata.json"
}

do_run() {
  need_template
  need_project
  [ -n "${BUCKET:-}" ] || die "BUCKET is not set (staging and temp files go there)"
  [ -n "${PROMPTS:-}" ] || die "PROMPTS is not set"
  [ -n "${OUT:-}" ] || die "OUT is not set"
  [ -n "${WORKERS:-}" ] || die "WORKERS is not set"
  local bucket="gs://${BUCKET#gs://}"
  # '~' separates the parameters (gcloud's ^~^ prefix), so worker lists keep their commas.
  local params="prompts=$PROMPTS~out=$OUT~workers=$WORKERS"
  [ -z "${PARAMS:-}" ] || params="$params~$PARAMS"
  local args=(gcloud dataflow flex-template run "${JOB_NAME:-genloom-generate-$(date -u +%Y%m%d-%H%M%S)}"
    --project="$PROJECT" --region="$REGION" --template-file-gcs-location="$TEMPLATE"
    --staging-location="$bucket/staging" --temp-location="$bucket/temp"
    "--parameters=^~^$params")
  [ -z "${NETWORK:-}" ] || args+=(--network="$NETWORK")
  [ -z "${SUBNETWORK:-}" ] || args+=(--subnetwork="$SUBNETWORK")
  [ -z "${SERVICE_ACCOUNT:-}" ] || args+=(--service-account-email="$SERVICE_ACCOUNT")
  [ -z "${MAX_WORKERS:-}" ] || args+=(--max-workers="$MAX_WORKERS")
  [ -z "${WORKER_MACHINE_TYPE:-}" ] || args+=(--worker-machine-type="$WORKER_MACHINE_TYPE")
  [ -z "${ADDITIONAL_EXPERIMENTS:-}" ] || args+=(--additional-experiments="$ADDITIONAL_EXPERIMENTS")
  [ -z "${ADDITIONAL_PIPELINE_OPTIONS:-}" ] || args+=(--additional-pipeline-options="$ADDITIONAL_PIPELINE_OPTIONS")
  run_cmd "${args[@]}" "${extra[@]}"
}

for c in "${commands[@]}"; do
  case "$c" in
    stage) do_stage ;;
    image) do_image ;;
    template) do_template ;;
    run) do_run ;;
  esac
done
