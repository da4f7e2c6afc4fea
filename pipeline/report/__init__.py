"""Reports: load run folders, transcribe the paper's numbers, build Tables 1-5 and Figures 1 and 4."""
