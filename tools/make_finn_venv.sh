#!/usr/bin/env bash
# FINN's own venv, for `python -m abbnn.finn` (docs/fpga.md, FINN). finn-plus 1.6.1 needs
# numpy >= 2.4.6 and Larq numpy < 2: the two cannot share an environment.
#
#   tools/make_finn_venv.sh [DIR]      # default .venv-finn; Python 3.11 ($PYTHON to change)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv-finn}
python=${PYTHON:-python3.11}
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# torch first, a CPU build: FINN's layers import it (torch 2.13.0 for Python 3.11 is a CPU
# build on this machine kind's disk; a plain `torch` takes a CUDA build of several GB)
"${pip[@]}" torch==2.13.0
# finn-plus without brevitas (tools/finn-requirements.txt says why), then its requirements
"${pip[@]}" --no-deps finn-plus==1.6.1
"${pip[@]}" -r tools/finn-requirements.txt
# this project's FINN side (abbnn.finn imports neither TensorFlow nor larq_abbnn)
"${pip[@]}" --no-deps -e .
"$venv/bin/python" -c "import abbnn.finn.flow, finn, torch; print('FINN venv ready:', torch.__version__)"
