"""Turning trained methods into the paper's numbers, with evaluators whose own accuracy is known.

metrics      per-AU MSE/MAE/PCC/ICC with the n/a policy and bootstrap intervals; verification
au           AU estimators: OpenFace (binary or CSVs) and the in-domain learned regressor
lightcnn     LightCNN-9/29/29v2 as released; weights: the released files, fetched and checked
identity     loading released LightCNN weights, the in-domain verifier, the Verifier wrapper
indomain     training-and-caching of in-domain evaluators by dataset fingerprint
pairs        the protocol's (source, target) pairs and the real pairs that fix the threshold
protocol     scoring one method through `Method.translate`, and the reference rows
evaluation   a whole benchmark directory -> per-pair files, summaries, results.json
evaluators   evaluator names checked before work; the verifier built; its weights pinned to the run folder
outside_rows the rows of methods scored from folders of their outputs (RUN/outside)
throughput   translations per second at fixed batch sizes, for every label of a run folder
examples     example images for the figures, stored in results.json
paired       paired tests of two rows on the same pairs (sign-flip, Wilcoxon, bootstrap, McNemar), Holm/BH
compare      `eggan-bench compare`: rows of one or several runs read back from their per-pair files
"""
