#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: TeX (pdflatex, lualatex + luatexja),
# Chromium with CJK fonts, poppler-utils, then the package with its test extras and CPU PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
packages=(texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended
          texlive-pictures texlive-lang-japanese texlive-luatex lmodern latexmk poppler-utils
          chromium fonts-noto-cjk fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# torch first and pinned, so that nothing later can pull a CUDA build.
python3 -m pip install -q "torch==2.13.0"
python3 -m pip install -q -e ".[test]"
