"""The writeup's name for train.py, the training-statistics script (it trains and plots; it tests nothing):

python3 autograder/hw1_autograder/test.py --outpath hw1      # the same as train.py --outpath hw1
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from train import main

if __name__ == "__main__":
    main()
