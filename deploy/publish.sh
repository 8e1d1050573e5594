#!/usr/bin/env bash
# The publish layout: the silo (moe-silo) and the command line (moe) in ONE self-contained folder for linux-x64, with
# the .NET runtime, ASP.NET Core, TorchSharp and libtorch's natives and the GLIBCXX edit of libLibTorchSharp.so
# (src/MoeRuntime.Build) applied to the published copy. Nothing else needs installing on the host or in the image.
# Usage: bash deploy/publish.sh OUT_DIR      (e.g. /opt/moeruntime, or deploy/Dockerfile's build context's app/)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: deploy/publish.sh OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
for project in silo/MoeRuntime.Silo src/MoeRuntime.Cli; do
  # Both apps share their dependencies (central package versions), so the second publish rewrites identical files.
  dotnet publish "$project" -c Release --self-contained true -o "$out" -p:CreateHardLinksForCopyLocalIfPossible=false \
    -p:CreateHardLinksForPublishFilesIfPossible=false -nologo -v:q
done
test -x "$out/moe-silo" && test -x "$out/moe" && test -f "$out/libLibTorchSharp.so" \
  || { echo "publish.sh: $out lacks moe-silo, moe or libLibTorchSharp.so" >&2; exit 1; }
echo "published moe-silo and moe to $out ($(du -sh "$out" | cut -f1))"
