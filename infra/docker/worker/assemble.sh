#!/usr/bin/env bash
# Lays out a worker image's files from a built distribution. Both worker Dockerfiles run it in their
# build stage, and it runs the same way outside Docker, which is how the layout can be checked
# without a container engine.
#
#   assemble.sh DIST OUT FLAVOR [LIBTORCH_LIB_DIR]
#
#   DIST              folder holding genloom.jar and lib/ (cli/target after `mvn -pl cli -am package`)
#   OUT               folder to fill: OUT/opt/genloom (jars), OUT/opt/libtorch/lib (native libraries)
#   FLAVOR            cpu, or the CUDA flavor of the libtorch build (cu128 for PyTorch 2.7.1)
#   LIBTORCH_LIB_DIR  for a CUDA flavor: the lib/ folder of an unpacked libtorch of that flavor
#
# What it does, and why:
#   - copies the distribution without the pytorch-native-cpu jar: DJL is pointed at OUT/opt/libtorch
#     through PYTORCH_LIBRARY_PATH, so the jar's 450 MB of libtorch_cpu would be dead weight (and,
#     left on the class path, would be unpacked into the DJL cache at every container start);
#   - cpu: unpacks libtorch from that same pytorch-native-cpu jar (the one Maven resolved);
#     CUDA: copies the given libtorch lib/ folder, after checking its build-version file;
#   - puts the DJL JNI library of the flavor next to libtorch as <djl version>-libdjl_torch.so,
#     where DJL looks first, so nothing is extracted or downloaded at run time and the root file
#     system can stay read-only.
set -euo pipefail

die() {
  echo "assemble: $*" >&2
  exit 1
}

[ $# -ge 3 ] || die "usage: assemble.sh DIST OUT FLAVOR [LIBTORCH_LIB_DIR]"
dist=$1
out=$2
flavor=$3
libtorch_lib=${4:-}
pytorch_version=${PYTORCH_VERSION:-2.7.1}

[ -f "$dist/genloom.jar" ] || die "$dist/genloom.jar not found (build with: mvn -B -DskipTests -pl cli -am package)"
[ -d "$dist/lib" ] || die "$dist/lib not found"

shopt -s nullglob
jni_jars=("$dist"/lib/pytorch-jni-*.jar)
[ ${#jni_jars[@]} -eq 1 ] || die "expected one pytorch-jni jar in $dist/lib, found ${#jni_jars[@]}"
jni_jar=${jni_jars[0]}
# pytorch-jni-<pytorch version>-<djl version>.jar
jni_base=$(basename "$jni_jar" .jar)
jni_versions=${jni_base#pytorch-jni-}
jni_pytorch=${jni_versions%%-*}
djl_version=${jni_versions#*-}
[ "$jni_pytorch" = "$pytorch_version" ] ||
  die "pytorch-jni is for PyTorch $jni_pytorch but PYTORCH_VERSION is $pytorch_version"

rm -rf "$out/opt/genloom" "$out/opt/libtorch"
mkdir -p "$out/opt/genloom/lib" "$out/opt/libtorch/lib"
cp "$dist/genloom.jar" "$out/opt/genloom/"
for jar in "$dist"/lib/*.jar; do
  case "$(basename "$jar")" in
    pytorch-native-*) ;;
    *) cp "$jar" "$out/opt/genloom/lib/" ;;
  esac
done

lib_out="$out/opt/libtorch/lib"
if [ "$flavor" = cpu ]; then
  native_jars=("$dist"/lib/pytorch-native-cpu-*-linux-x86_64.jar)
  [ ${#native_jars[@]} -eq 1 ] || die "expected one pytorch-native-cpu linux-x86_64 jar in $dist/lib"
  tmp=$(mktemp -d)
  unzip -q "${native_jars[0]}" 'pytorch/cpu/linux-x86_64/*' 'native/lib/pytorch.properties' -d "$tmp"
  grep -q "^version=$pytorch_version" "$tmp/native/lib/pytorch.properties" ||
    die "$(basename "${native_jars[0]}") is not PyTorch $pytorch_version"
  cp "$tmp"/pytorch/cpu/linux-x86_64/* "$lib_out/"
  rm -rf "$tmp"
else
  [ -n "$libtorch_lib" ] || die "flavor $flavor needs LIBTORCH_LIB_DIR (the lib/ of an unpacked libtorch)"
  [ -f "$libtorch_lib/libtorch.so" ] || die "$libtorch_lib/libtorch.so not found"
  build_version_file="$libtorch_lib/../build-version"
  [ -f "$build_version_file" ] || die "$build_version_file not found; is $libtorch_lib a libtorch lib/ folder?"
  build_version=$(tr -d '[:space:]' <"$build_version_file")
  [ "$build_version" = "$pytorch_version+$flavor" ] ||
    die "libtorch build-version is $build_version, expected $pytorch_version+$flavor"
  cp -a "$libtorch_lib"/. "$lib_out/"
  # Test and example libraries: DJL loads every shared library in the folder, and these are never
  # used by a model (removing them also keeps the image smaller).
  rm -f "$lib_out"/*_test.so "$lib_out"/libbackend_with_compiler.so "$lib_out"/libaoti_custom_ops.so \
    "$lib_out"/*.a
fi

unzip -p "$jni_jar" "jnilib/linux-x86_64/$flavor/libdjl_torch.so" >"$lib_out/$djl_version-libdjl_torch.so" ||
  die "$(basename "$jni_jar") has no JNI library for linux-x86_64/$flavor (flavors in it: $(unzip -Z1 "$jni_jar" | sed -n 's#^jnilib/linux-x86_64/\([^/]*\)/libdjl_torch.so$#\1#p' | tr '\n' ' '))"
[ -s "$lib_out/$djl_version-libdjl_torch.so" ] || die "empty JNI library"

for f in libtorch.so libc10.so; do
  [ -f "$lib_out/$f" ] || die "$lib_out/$f missing after assembly"
done
echo "assemble: PyTorch $pytorch_version ($flavor), DJL $djl_version JNI; $(find "$out/opt/genloom/lib" -name "*.jar" | wc -l) jars, $(du -sh "$lib_out" | cut -f1) of native libraries"
