#!/usr/bin/env bash
# Installs the real-audio Debian packages of ../shared/DATA.md and lays them out as plain folders under
# data/ (git-ignored): data/train/{speech,music}, data/dev/speech (fr_CA_f_June, never trained on) and
# data/dev/music/supertux (supertux-data's soundtrack: held-out music, never trained on; the rate-quality
# benchmark scores music on it). The packages DATA.md reserves for independent evaluation are not touched.
# Raw G.722 is decoded with ffmpeg because soundfile cannot read it. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SKIP_APT:-0}" != 1 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ffmpeg fillets-ng-data-cs asterisk-core-sounds-en-g722 \
    asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722 klettres-data hedgewars-data \
    wesnoth-1.16-music supertux-data >/dev/null
fi
g722_to_wav() {  # $1 = voice folder, $2 = destination folder
  mkdir -p "$2"
  find "$1" -name '*.g722' ! -name 'beep*' ! -name '*tone*' ! -path '*/silence/*' ! -name 'tt-monkeys*' |
  while read -r f; do
    out="$2/$(echo "${f#"$1"/}" | tr '/' '_' | sed 's/\.g722$/.wav/')"
    [ -s "$out" ] || ffmpeg -nostdin -loglevel error -y -f g722 -i "$f" -ar 16000 -ac 1 "$out"
  done
}
A=/usr/share/asterisk/sounds
g722_to_wav "$A/en_US_f_Allison" data/train/speech/asterisk_en
g722_to_wav "$A/es_MX_f_Allison" data/train/speech/asterisk_es
g722_to_wav "$A/fr_CA_f_June" data/dev/speech/asterisk_fr
mkdir -p data/train/music data/train/speech
ln -sfn /usr/share/games/fillets-ng/sound data/train/speech/fillets_cs
ln -sfn /usr/share/klettres data/train/speech/klettres
ln -sfn /usr/share/games/wesnoth/1.16/data/core/music data/train/music/wesnoth
ln -sfn /usr/share/games/hedgewars/Data/Music data/train/music/hedgewars
mkdir -p data/dev/music
ln -sfn /usr/share/games/supertux2/music data/dev/music/supertux
echo "data ready: $(find -L data -type f \( -name '*.wav' -o -name '*.ogg' -o -name '*.flac' \) | wc -l) files"
