#!/usr/bin/env bash
# Checks the CUDA build path (Maven profile cuda-cu124) without downloading its 2.5 GB native jar:
#   1. generators compiles against the profile's DJL release (in a copy of the sources, so the
#      regular build's classes are left alone);
#   2. the profile's pytorch-jni jar holds a JNI library for the profile's libtorch flavor;
#   3. Maven Central serves the profile's pytorch-native POM (the jar itself is fetched only by a
#      real GPU build, infra/gpu/smoke.sh).
# Needs network access to Maven Central. Run from anywhere; exits non-zero naming what failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
die() { echo "check-build: $*" >&2; exit 1; }

prop() {
  # A property as the cuda-cu124 profile sets it.
  mvn -B -q -Dstyle.color=never -f "$root/pom.xml" -N -Pcuda-cu124 help:evaluate -Dexpression="$1" -DforceStdout \
    | sed 's/\x1b\[[0-9;]*m//g' | tr -d '[:space:]'
}
djl=$(prop djl.version)
torch=$(prop pytorch.version)
flavor=$(prop pytorch.flavor)
[ -n "$djl" ] && [ -n "$torch" ] && [ -n "$flavor" ] || die "cannot read the cuda-cu124 profile's versions"
echo "check-build: cuda-cu124 = DJL $djl, pytorch-jni $torch-$djl, pytorch-native-$flavor $torch"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && tar --exclude=./.git --exclude=./models --exclude='./*/target' --exclude=./target -cf - .) \
  | tar -xf - -C "$work"
mvn -B -q -f "$work/pom.xml" -Pcuda-cu124 -Dspotless.check.skip=true -DskipTests -pl generators -am compile \
  || die "generators does not compile against DJL $djl"
echo "check-build: generators compiles against DJL $djl"

mvn -B -q dependency:get -Dartifact="ai.djl.pytorch:pytorch-jni:$torch-$djl" -Dtransitive=false \
  || die "cannot resolve ai.djl.pytorch:pytorch-jni:$torch-$djl"
jni="$HOME/.m2/repository/ai/djl/pytorch/pytorch-jni/$torch-$djl/pytorch-jni-$torch-$djl.jar"
[ -f "$jni" ] || die "resolved pytorch-jni but found no $jni"
unzip -l "$jni" | grep -q "jnilib/linux-x86_64/$flavor/libdjl_torch.so" \
  || die "pytorch-jni $torch-$djl has no $flavor JNI library for linux-x86_64"
echo "check-build: pytorch-jni $torch-$djl binds $flavor on linux-x86_64"

mvn -B -q dependency:get -Dartifact="ai.djl.pytorch:pytorch-native-$flavor:$torch:pom" -Dtransitive=false \
  || die "Maven Central does not serve ai.djl.pytorch:pytorch-native-$flavor:$torch"
echo "check-build: ai.djl.pytorch:pytorch-native-$flavor:$torch resolves (POM; the linux-x86_64 jar is fetched by a GPU build)"
