#!/bin/sh
# Build handin.tar for Homework 1 Part 1:  sh create_tarball.sh   (from the folder that holds mytorch/ and hw1/)
#
# The archive holds mytorch/ and hw1/ (with your training-statistics plots hw1/*.png, if present), without
# caches. Before writing it, the preflight checks that the required files, names and signatures exist and that
# your code imports only numpy and the standard library. `sh create_tarball.sh --force` builds it anyway.
# Check the result as the course server will:  python3 autograder/hw1_autograder/runner.py --handin handin.tar

cd "$(dirname "$0")" || exit 1

force=no
if [ "$1" = "--force" ]; then
    force=yes
fi

missing=""
for file in mytorch/activation.py mytorch/loss.py mytorch/linear.py mytorch/batchnorm.py hw1/hw1.py hw1/mc.py; do
    if [ ! -f "$file" ]; then
        missing="$missing $file"
    fi
done
if [ -n "$missing" ]; then
    echo "create_tarball.sh: not creating handin.tar: missing$missing." >&2
    echo "Run it from the homework folder (the one holding mytorch/ and hw1/); keep the handout's file names." >&2
    exit 1
fi

if [ -f autograder/hw1_autograder/runner.py ] && command -v python3 >/dev/null 2>&1; then
    if ! python3 autograder/hw1_autograder/runner.py --check; then
        if [ "$force" = no ]; then
            echo "create_tarball.sh: not creating handin.tar: fix the problems above" \
                 "(or run 'sh create_tarball.sh --force' to build it anyway)." >&2
            exit 1
        fi
        echo "create_tarball.sh: --force: building handin.tar despite the problems above." >&2
    fi
else
    echo "create_tarball.sh: note: no preflight (python3 or autograder/hw1_autograder/runner.py not found)." >&2
fi

rm -f handin.tar
if ! tar -cf handin.tar --exclude='__pycache__' --exclude='*.pyc' --exclude='.ipynb_checkpoints' \
        --exclude='.DS_Store' mytorch hw1; then
    rm -f handin.tar
    echo "create_tarball.sh: tar failed; handin.tar was not created." >&2
    exit 1
fi
plots=$(find hw1 -maxdepth 1 -name '*.png' | wc -l | tr -d ' ')
echo "Created handin.tar (mytorch/, hw1/, $plots training plot(s)). Submit it to Autolab."
if [ "$plots" = 0 ]; then
    echo "Note: no hw1/*.png training plots found; the 5 hand-graded points need them (writeup section 3.6)."
    echo "Make them with: python3 autograder/hw1_autograder/test.py --outpath hw1"
fi
