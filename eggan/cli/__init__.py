"""The command line, on top of everything else.

main      `eggan-bench`: parses each command's options and calls one library function
data      `eggan-bench data ...`: render SynthFACS, inspect a dataset, ingest RaFD/MMI/DISFA/folders
pipeline  `eggan-bench run` as a library function: train every method, evaluate, report; resumable
"""
