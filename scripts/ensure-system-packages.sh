#!/usr/bin/env bash
# Debian packages the test suite uses: Tesseract OCR with English and Spanish, espeak-ng and sox (test audio),
# Chromium for the browser tests.
# Installs only what is missing; needs root for that.
set -euo pipefail
missing=()
command -v tesseract >/dev/null || missing+=(tesseract-ocr)
for lang in eng spa; do
  [ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/$lang.traineddata 2>/dev/null)" ] || missing+=("tesseract-ocr-$lang")
done
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v sox >/dev/null || missing+=(sox)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "Please install: ${missing[*]} (needs root)" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "System packages present."
