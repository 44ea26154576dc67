"""The mutation check: do the tests catch the bugs a refactor or a new recipe plausibly introduces?

Each mutant below is one small, realistic change to a core module (a loss on the wrong tensor, a
flipped sign, a swapped argument, an off-by-one, a check left out) with the few tests that should
catch it. The script copies the working tree to a temporary folder, applies the mutants one at a
time there (the working tree is never touched), runs each one's tests, and reports which mutants
the tests killed (a test failed) and which survived (every test passed). A mutant whose original
text is not found exactly once stops the run: the list must follow the code.

    nice -n 15 python tests/mutants.py                    # every mutant; the kill rate and a table
    nice -n 15 python tests/mutants.py --jobs 2           # two at a time, one torch thread each
    nice -n 15 python tests/mutants.py --only gp-sign,pcc-mask-or --no-baseline
    python tests/mutants.py --list                        # the mutants, their kinds and tests
    python tests/mutants.py --check                       # each still applies (seconds, no tests run)

Not collected by pytest (the file name does not start with ``test_``). The result of the last full
run is in CONTRIBUTING.md. Exit status: 0 when the kill rate reaches ``--target`` and every mutant
marked ``required`` (the kinds issue 22 named) is killed, 1 otherwise, 2 on a stale mutant.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    kind: str  # training step, schedule, loop, evaluation, report, data
    path: str  # the mutated file, relative to the repository root
    old: str  # text found exactly once in that file
    new: str
    tests: tuple[str, ...]  # pytest node ids or files, fastest killer first
    required: bool = False  # a kind issue 22 named: it must be killed

    def apply(self, text: str) -> str:
        count = text.count(self.old)
        if count != 1:
            raise StaleMutant(f"{self.name}: {self.old!r} occurs {count} times in {self.path}, not once")
        return text.replace(self.old, self.new)


class StaleMutant(Exception):
    pass


EGG = "tests/test_steps_eggan.py"
BASE = "tests/test_steps_baselines.py"
METRICS = "tests/test_metrics.py"
REFS = "tests/test_evaluation_references.py"
REPORTS = "tests/test_reports.py"
TRAIN = "tests/test_train.py"
SCHEDULES = "tests/test_schedules.py"
GT = "tests/test_groundtruth.py"
LEVERS = "tests/test_recipe_levers.py"
BLEVERS = "tests/test_baseline_levers.py"
COMPARE = "tests/test_compare.py"

MUTANTS: tuple[Mutant, ...] = (
    # --- training steps: EGGAN ----------------------------------------------------------------------
    Mutant("l1-on-edit", "training step", "eggan/egg/model.py", 'terms["g_l1"] = L.l1_loss(recon, x)',
           'terms["g_l1"] = L.l1_loss(images[:n], x)',
           (f"{EGG}::test_the_reconstruction_terms_read_the_reconstruction_not_the_edit",), required=True),
    Mutant("msssim-on-edit", "training step", "eggan/egg/model.py", "L.msssim_loss(recon, x, self.msssim)",
           "L.msssim_loss(images[:n], x, self.msssim)",
           (f"{EGG}::test_generator_step_is_eq_7_on_the_edit_and_the_reconstruction",)),
    Mutant("identity-group-bce", "training step", "baselines/homointerp.py",
           "loss = loss + F.cross_entropy(logits[:, k:], target[:, k:])",
           "loss = loss + bce_sum(logits[:, k:], target[:, k:])",
           (f"{BLEVERS}::test_homointerp_identity_group_targets_the_source_person_where_its_strength_is_zero",)),
    Mutant("fgsm-descent", "training step", "eggan/egg/model.py", "1.25 * radius * grad.sign()",
           "-1.25 * radius * grad.sign()",
           (f"{LEVERS}::test_the_adversarial_view_stays_in_its_ball_and_raises_c_exps_loss",)),
    Mutant("gp-sign", "training step", "eggan/egg/model.py", "loss, learners = adv + c.lambda_gp * gp,",
           "loss, learners = adv - c.lambda_gp * gp,",
           (f"{EGG}::test_critic_step_is_wgan_gp_on_real_vs_edit_and_c_exp_on_real_classes",), required=True),
    Mutant("cexp-freeze-one-late", "training step", "eggan/egg/model.py", "step < self.cfg.cexp_freeze_at",
           "step <= self.cfg.cexp_freeze_at",
           (f"{LEVERS}::test_c_exp_learns_until_its_freeze_iteration_then_only_judges",)),
    Mutant("dz-prior-code-swapped", "training step", "eggan/egg/model.py",
           "torch.cat([torch.randn_like(code), code])", "torch.cat([code, torch.randn_like(code)])",
           (f"{EGG}::test_latent_step_takes_prior_samples_as_real_and_codes_as_fake",), required=True),
    Mutant("critic-loss-sign", "training step", "eggan/egg/losses.py", "return d_fake.mean() - d_real.mean()",
           "return d_real.mean() - d_fake.mean()",
           (f"{EGG}::test_critic_step_is_wgan_gp_on_real_vs_edit_and_c_exp_on_real_classes",)),
    Mutant("aus-round-half-even", "training step", "eggan/egg/losses.py", "torch.floor(aus + 0.5)",
           "torch.round(aus)", (f"{EGG}::test_generator_step_is_eq_7_on_the_edit_and_the_reconstruction",)),
    Mutant("expression-target-source", "training step", "eggan/egg/model.py",
           "levels = L.discretise_aus(judged_aus, c.au_discretisation)",
           "levels = L.discretise_aus(torch.cat([u_s, u_s])[: len(judged)], c.au_discretisation)",
           (f"{EGG}::test_generator_step_is_eq_7_on_the_edit_and_the_reconstruction",)),
    Mutant("perceptual-l1", "training step", "eggan/egg/losses.py", "return F.mse_loss(features, reference)",
           "return F.l1_loss(features, reference)",
           (f"{EGG}::test_generator_step_is_eq_7_on_the_edit_and_the_reconstruction",)),
    Mutant("encoder-term-saturating", "training step", "eggan/egg/losses.py",
           "return F.softplus(-d_encoded).mean()", "return -F.softplus(d_encoded).mean()",
           (f"{EGG}::test_generator_step_is_eq_7_on_the_edit_and_the_reconstruction",)),
    Mutant("identity-weight-unscaled", "training step", "eggan/egg/model.py",
           'weights["g_id"] = c.lambda_id * c.classifier_weight_scale', 'weights["g_id"] = c.lambda_id',
           ("tests/test_eggan_model.py::test_classifier_weight_scale_multiplies_exactly_the_expression_and_"
            "identity_weights",)),
    Mutant("c-id-judge-in-train-mode", "training step", "eggan/egg/model.py",
           'self.nets["c_id"].train(self.cfg.cid_bn_updates)', 'self.nets["c_id"].train(True)',
           (f"{EGG}::test_generator_step_is_eq_7_on_the_edit_and_the_reconstruction",)),
    Mutant("paper-lambda-gp", "training step", "eggan/egg/variants.py", '"lambda_gp": 20.0,', '"lambda_gp": 10.0,',
           (f"{EGG}::test_critic_step_is_wgan_gp_on_real_vs_edit_and_c_exp_on_real_classes",)),
    Mutant("one-mixing-coefficient", "training step", "eggan/core/gan.py",
           "alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1))",
           "alpha = torch.rand(1, *([1] * (real.dim() - 1))",
           (f"{EGG}::test_critic_step_is_wgan_gp_on_real_vs_edit_and_c_exp_on_real_classes",)),
    Mutant("penalty-batch-norm", "training step", "eggan/core/gan.py", "grad.flatten(1).norm(2, dim=1)",
           "grad.norm(2)", (f"{EGG}::test_the_penalty_pulls_the_critics_gradient_norm_towards_one",)),
    Mutant("penalty-of-mean-score", "training step", "eggan/core/gan.py", "torch.autograd.grad(score.sum(), mixed,",
           "torch.autograd.grad(score.mean(), mixed,",
           (f"{EGG}::test_the_penalty_pulls_the_critics_gradient_norm_towards_one",)),
    # --- training steps: the baselines -----------------------------------------------------------------
    Mutant("stargan-cls-original-label", "training step", "baselines/stargan.py",
           "g_cls = F.cross_entropy(out_cls, label_trg)", "g_cls = F.cross_entropy(out_cls, label_org)",
           (f"{BASE}::test_stargan_generator_step",), required=True),
    Mutant("stargan-targets-not-permuted", "training step", "baselines/stargan.py",
           "label_trg = label_org[torch.randperm(len(batch), device=x.device)]", "label_trg = label_org",
           (f"{BASE}::test_stargan_targets_are_a_permutation_of_the_batchs_labels",), required=True),
    Mutant("stargan-cycle-to-target", "training step", "baselines/stargan.py", "else G(x_fake, c_org)",
           "else G(x_fake, c_trg)", (f"{BASE}::test_stargan_generator_step",)),
    Mutant("stargan-identity-to-target", "training step", "baselines/stargan.py", "torch.cat([c_org, c_org])",
           "torch.cat([c_org, c_trg])",
           (f"{BLEVERS}::test_stargan_identity_term_is_g_of_the_source_class_against_the_source",)),
    Mutant("stargan-critic-class-on-fake", "training step", "baselines/stargan.py",
           "d_cls = F.cross_entropy(out_cls[:n], label_org)", "d_cls = F.cross_entropy(out_cls[n : 2 * n], label_org)",
           (f"{BASE}::test_stargan_critic_step",)),
    Mutant("stargan-rec-unweighted", "training step", "baselines/stargan.py",
           "g_loss = g_fake + c.lambda_rec * g_rec", "g_loss = g_fake + g_rec",
           (f"{BASE}::test_stargan_generator_step",)),
    Mutant("ganimation-aus-not-fifths", "training step", "baselines/ganimation.py",
           "x, y_real = batch.image, batch.aus / AU_MAX", "x, y_real = batch.image, batch.aus",
           (f"{BASE}::test_ganimation_first_critic_step",)),
    Mutant("ganimation-compose-swapped", "training step", "baselines/ganimation_nets.py",
           "return attention * image + (1 - attention) * colour", "return attention * colour + (1 - attention) * image",
           (f"{BASE}::test_ganimation_first_critic_step",)),
    Mutant("ganimation-noise-one-sided", "training step", "baselines/ganimation.py",
           "(torch.rand(n, self.info.n_aus, device=self.au_bank.device) * 2 - 1)",
           "torch.rand(n, self.info.n_aus, device=self.au_bank.device)",
           (f"{BASE}::test_ganimation_targets_are_a_training_images_aus_plus_noise_on_the_fifth_scale",)),
    Mutant("ganimation-cond-on-source", "training step", "baselines/ganimation.py",
           "g_cond = F.mse_loss(cond_fake, y_trg)", "g_cond = F.mse_loss(cond_fake, y_real)",
           (f"{BASE}::test_ganimation_generator_step",)),
    Mutant("ganimation-smoothness-one-direction", "training step", "baselines/ganimation_nets.py",
           "(mask[:, :, :-1, :] - mask[:, :, 1:, :])", "(mask[:, :, :, :-1] - mask[:, :, :, 1:])",
           (f"{BASE}::test_ganimation_generator_step",)),
    Mutant("homointerp-critic-sign", "training step", "baselines/homointerp.py",
           'adv = {"d_adv": score_z.mean() - score_f.mean()}', 'adv = {"d_adv": score_f.mean() - score_z.mean()}',
           (f"{BASE}::test_homointerp_decoder_critic_and_guidance_steps",)),
    Mutant("homointerp-classifier-on-real", "training step", "baselines/homointerp.py",
           'logits[:n] if c.classifier_on == "interpolated"',
           'logits[n : 2 * n] if c.classifier_on == "interpolated"',
           (f"{BASE}::test_homointerp_decoder_critic_and_guidance_steps",)),
    Mutant("homointerp-interpolated-labels-reversed", "training step", "baselines/homointerp.py",
           "* (a[perm] - a)", "* (a - a[perm])", (f"{BASE}::test_homointerp_encoder_interpolator_step",)),
    Mutant("homointerp-interpolate-all-trains-e", "training step", "baselines/homointerp.py", "f_bar = f.detach()",
           "f_bar = f", (f"{BASE}::test_homointerp_encoder_interpolator_step",)),
    Mutant("homointerp-ei-from-step-1", "training step", "baselines/homointerp.py", "if step % c.n_discrim == 0:",
           "if (step + 1) % c.n_discrim == 0:",
           (f"{BASE}::test_homointerp_updates_e_and_i_every_fifth_step_from_step_0",)),
    Mutant("homointerp-r1-on-fake-latents", "training step", "baselines/homointerp.py",
           'reg, weight = {"d_r1": r1_penalty(score_f, real)}', 'reg, weight = {"d_r1": r1_penalty(score_z, z)}',
           (f"{BLEVERS}::test_homointerp_r1_is_the_logistic_loss_with_r1_on_real_latents",)),
    Mutant("homointerp-logistic-sides-swapped", "training step", "baselines/homointerp.py",
           "logistic_critic_loss(score_f, score_z)", "logistic_critic_loss(score_z, score_f)",
           (f"{BLEVERS}::test_homointerp_r1_is_the_logistic_loss_with_r1_on_real_latents",)),
    Mutant("stargan-r1-on-patch-sum", "training step", "baselines/stargan.py",
           'reg = {"d_r1": r1_penalty(src_real.flatten(1).mean(1), real)}',
           'reg = {"d_r1": r1_penalty(src_real.flatten(1).sum(1), real)}',
           (f"{BLEVERS}::test_stargan_r1_penalises_the_critics_gradient_on_real_images",)),
    # --- schedules, data order, resume, non-finite guards ----------------------------------------------
    Mutant("linear-decay-off-by-one", "schedule", "eggan/core/schedules.py",
           "max(0.0, 1.0 - (step - decay_start) / span)", "max(0.0, 1.0 - (step - decay_start + 1) / span)",
           (f"{SCHEDULES}::test_every_optimiser_follows_its_papers_schedule_over_a_whole_run[stargan]",)),
    Mutant("ganimation-decay-at-half", "schedule", "baselines/ganimation.py",
           "decay_start = total_steps * config.epochs_no_decay // (config.epochs_no_decay + config.epochs_decay)",
           "decay_start = total_steps // 2",
           (f"{SCHEDULES}::test_every_optimiser_follows_its_papers_schedule_over_a_whole_run[ganimation]",)),
    Mutant("eggan-decay-from-start", "schedule", "eggan/egg/model.py",
           "linear_decay(optimizer, steps, round(steps * c.decay_start))", "linear_decay(optimizer, steps, 0)",
           (f"{SCHEDULES}::test_every_optimiser_follows_its_papers_schedule_over_a_whole_run[eggan]",)),
    Mutant("eggan-decay-start-ignored", "schedule", "eggan/egg/model.py",
           "linear_decay(optimizer, steps, round(steps * c.decay_start))", "linear_decay(optimizer, steps, steps // 2)",
           (f"{SCHEDULES}::test_eggan_decay_start_one_holds_the_rate_all_run_and_only_quick_sets_it",)),
    Mutant("log-window-never-cleared", "loop", "eggan/core/train.py", "                    window.clear()\n", "",
           (f"{TRAIN}::test_a_log_line_holds_the_mean_of_each_loss_since_the_last_line",)),
    Mutant("rate-over-log-every", "loop", "eggan/core/train.py",
           "rate = tc.batch_size * env.world_size * busy_steps / max(busy, 1e-9)",
           "rate = tc.batch_size * env.world_size * tc.log_every / max(busy, 1e-9)",
           (f"{TRAIN}::test_images_per_s_counts_the_steps_of_its_line_and_only_their_time",)),
    Mutant("resume-config-read-raw", "loop", "eggan/core/train.py",
           "saved_config, current = read_run_config(saved).to_dict(), config.to_dict()",
           "saved_config, current = saved, config.to_dict()",
           (f"{TRAIN}::test_resume_refuses_another_config_and_reads_a_setting_added_since_as_its_default",)),
    Mutant("same-order-every-epoch", "loop", "eggan/core/train.py", "manual_seed(self.seed * 1_000_003 + epoch)",
           "manual_seed(self.seed * 1_000_003)",
           (f"{TRAIN}::test_each_epoch_shows_every_training_image_once_in_a_new_order",)),
    Mutant("ranks-share-a-shard", "loop", "eggan/core/train.py",
           "start = position * global_batch + self.env.rank * self.batch_size",
           "start = position * self.batch_size + self.env.rank * self.batch_size",
           (f"{TRAIN}::test_data_order_shards_and_repeats",)),
    Mutant("flip-vertical", "loop", "eggan/core/train.py", "batch.image[flip].flip(-1)", "batch.image[flip].flip(-2)",
           (f"{TRAIN}::test_each_epoch_shows_every_training_image_once_in_a_new_order",)),
    Mutant("resume-reseeds", "loop", "eggan/core/train.py", "if len(states) == env.world_size:",
           "if len(states) != env.world_size:", (f"{TRAIN}::test_resume_across_an_epoch_boundary_is_exact[13]",)),
    Mutant("inf-loss-passes", "loop", "eggan/core/train.py",
           "bad = next((name for name, value in losses.items() if not torch.isfinite(value).all()), None)",
           "bad = next((name for name, value in losses.items() if torch.isnan(value).any()), None)",
           (f"{TRAIN}::test_non_finite_names_the_first_bad_loss_weight_or_optimiser_state",)),
    Mutant("inf-state-passes", "loop", "eggan/core/train.py", "append(torch.isfinite(tensor).all())",
           "append(~torch.isnan(tensor).any())",
           (f"{TRAIN}::test_non_finite_names_the_first_bad_loss_weight_or_optimiser_state",)),
    Mutant("state-never-checked", "loop", "eggan/core/train.py",
           "problem = non_finite(losses, method if boundary or wants_stop else None)", "problem = non_finite(losses)",
           (f"{TRAIN}::test_non_finite_weights_or_optimiser_state_stop_before_they_are_saved",)),
    # --- evaluation -------------------------------------------------------------------------------------
    Mutant("impostor-from-source", "evaluation", "evaluate/protocol.py",
           "cosine(generated_features, reference.impostor_features)",
           "cosine(reference.source_features, reference.impostor_features)",
           (f"{REFS}::test_every_per_pair_value_is_the_evaluators_reading_of_the_right_image",), required=True),
    Mutant("genuine-pairs-one-identity", "evaluation", "evaluate/pairs.py", "own = members[multi[i % len(multi)]]",
           "own = members[multi[0]]", ("tests/test_pairs.py::test_real_genuine_pairs_spread_over_every_test_identity",),
           required=True),
    Mutant("pcc-mask-or", "evaluation", "evaluate/metrics.py",
           "(m.var_y > ZERO_VARIANCE) & (m.var_p > ZERO_VARIANCE)",
           "(m.var_y > ZERO_VARIANCE) | (m.var_p > ZERO_VARIANCE)",
           (f"{METRICS}::test_a_constant_that_binary_cannot_represent_has_no_pcc",), required=True),
    Mutant("bootstrap-level", "evaluation", "evaluate/metrics.py", "alpha = (1.0 - CI_LEVEL) / 2.0\n    for name",
           "alpha = 1.0 - CI_LEVEL\n    for name",
           (f"{METRICS}::test_avg_interval_is_the_explicit_percentile_bootstrap",), required=True),
    Mutant("icc-half", "evaluation", "evaluate/metrics.py", "value = 2.0 * m.cov / total", "value = m.cov / total",
           (f"{METRICS}::test_per_au_values_match_scipy_and_hand_computation",)),
    Mutant("failed-readings-kept", "evaluation", "evaluate/metrics.py",
           "return keep if ok is None else keep & np.asarray(ok, dtype=bool)", "return keep",
           (f"{METRICS}::test_nan_rows_and_failed_estimator_rows_are_excluded_pairwise_and_counted",)),
    Mutant("avg-not-nan-aware", "evaluation", "evaluate/metrics.py",
           '"value": finite_or_none(np.nanmean(per_au)) if defined.any()',
           '"value": finite_or_none(np.mean(per_au)) if defined.any()',
           (f"{METRICS}::test_zero_variance_aus_are_na_and_left_out_of_the_pcc_average",)),
    Mutant("accept-strictly-above", "evaluation", "evaluate/metrics.py",
           '"accuracy": finite_or_none(np.mean(genuine >= threshold))',
           '"accuracy": finite_or_none(np.mean(genuine > threshold))',
           (f"{METRICS}::test_a_score_equal_to_the_threshold_is_accepted",)),
    Mutant("impostor-may-be-the-source", "evaluation", "evaluate/pairs.py",
           "shifts = torch.randint(1, len(order),", "shifts = torch.randint(0, len(order),",
           ("tests/test_pairs.py::test_pairs_take_targets_from_train_and_sources_from_test",)),
    Mutant("labels-vs-target-reading", "evaluation", "evaluate/protocol.py",
           'au_agreement(columns(frame, "label_", coded), columns(frame, "pred_", coded), pred_ok,',
           'au_agreement(columns(frame, "target_", coded), columns(frame, "pred_", coded), pred_ok,',
           (f"{REFS}::test_each_rows_figures_are_recomputed_from_its_per_pair_csv",)),
    Mutant("seed-std-ddof-0", "evaluation", "evaluate/seeds.py", "defined.std(ddof=1)", "defined.std(ddof=0)",
           ("tests/test_evaluation.py::test_aggregate_is_the_mean_and_sample_std_over_seeds",), required=True),
    # --- evaluation: the ground truth on SynthFACS (issue 19) ---------------------------------------------
    Mutant("gt-bootstrap-level", "evaluation", "evaluate/metrics.py",
           "alpha = (1.0 - CI_LEVEL) / 2.0\n        entry", "alpha = 1.0 - CI_LEVEL\n        entry",
           (f"{GT}::test_summary_means_and_percentile_bootstrap_interval",)),
    Mutant("gt-damage-on-changed-pixels", "evaluation", "evaluate/groundtruth.py",
           "damage = ((o - s).abs() * ~must3)", "damage = ((o - s).abs() * must3)",
           (f"{GT}::test_damage_counts_only_the_pixels_that_must_stay",)),
    Mutant("gt-change-by-channel-mean", "evaluation", "evaluate/groundtruth.py",
           "(ideal - source).abs().amax(dim=-3, keepdim=True) > CHANGE_LEVEL",
           "(ideal - source).abs().mean(dim=-3, keepdim=True) > CHANGE_LEVEL",
           (f"{GT}::test_a_change_in_one_colour_channel_must_be_made",)),
    Mutant("gt-change-level-inclusive", "evaluation", "evaluate/groundtruth.py",
           "keepdim=True) > CHANGE_LEVEL", "keepdim=True) >= CHANGE_LEVEL",
           (f"{GT}::test_a_difference_of_the_change_level_or_less_asks_for_no_change",)),
    Mutant("gt-psnr-of-amplitude", "evaluation", "evaluate/groundtruth.py",
           "return 10 * torch.log10(PIXEL_MAX**2 / mse)", "return 20 * torch.log10(PIXEL_MAX**2 / mse)",
           (f"{GT}::test_psnr_and_ssim_against_the_ideal",)),
    Mutant("gt-own-edit-reversed", "evaluation", "evaluate/groundtruth.py",
           "pixel_projection(reconstruction, output, source, ideal)",
           "pixel_projection(output, reconstruction, source, ideal)",
           (f"{GT}::test_own_edit_is_the_change_from_the_reconstruction_projected_on_the_ideal_change",)),
    Mutant("gt-gain-inverted", "evaluation", "evaluate/groundtruth.py", "gain=finite_or_none(read / made)",
           "gain=finite_or_none(made / read)",
           (f"{GT}::test_gain_is_the_estimators_reading_over_the_pixels_projection",)),
    # --- evaluation: paired comparisons (issue 20) -------------------------------------------------------
    Mutant("sign-flip-ignores-clusters", "evaluation", "evaluate/paired.py",
           "units = np.bincount(codes, weights=diff)\n    observed", "units = diff\n    observed",
           (f"{COMPARE}::test_clustered_sign_flips_move_each_persons_pairs_together",)),
    Mutant("cluster-bootstrap-by-pair", "evaluation", "evaluate/paired.py",
           "return bootstrap_weights(int(codes.max()) + 1, rounds, seed)[:, codes]",
           "return bootstrap_weights(len(codes), rounds, seed)",
           (f"{COMPARE}::test_identity_clustering_widens_the_interval_where_a_persons_pairs_move_together",)),
    Mutant("pcc-bootstrap-unpaired", "evaluation", "evaluate/paired.py",
           "samples = row(a, weights) - row(b, weights)", "samples = row(a, weights) - row(b, weights[::-1])",
           (f"{COMPARE}::test_the_avg_pcc_difference_is_an_explicit_paired_percentile_bootstrap",)),
    Mutant("mcnemar-counts-concordant", "evaluation", "evaluate/paired.py",
           "stats.binomtest(only_a, only_a + only_b, 0.5)", "stats.binomtest(only_a, int(both.sum()), 0.5)",
           (f"{COMPARE}::test_verification_is_exact_mcnemar_on_the_discordant_pairs",)),
    Mutant("holm-not-monotone", "evaluation", "evaluate/paired.py",
           "running = max(running, min(1.0, (len(order) - rank) * p[i]))",
           "running = min(1.0, (len(order) - rank) * p[i])",
           (f"{COMPARE}::test_holm_by_hand_and_benjamini_hochberg_as_scipy",)),
    Mutant("bh-ascending", "evaluation", "evaluate/paired.py",
           "order = sorted(tested, key=lambda i: p[i], reverse=True)", "order = sorted(tested, key=lambda i: p[i])",
           (f"{COMPARE}::test_holm_by_hand_and_benjamini_hochberg_as_scipy",)),
    Mutant("dagger-ranking-reversed", "report", "reports/tables.py", "next_row_marks(significance, ranked)",
           "next_row_marks(significance, ranked[::-1])",
           (f"{COMPARE}::test_the_dagger_sits_on_the_avg_mse_cell_of_the_row_better_than_the_next",)),
    # --- training recipe settings (issue 19) ------------------------------------------------------------
    Mutant("ema-moves-the-wrong-share", "training step", "eggan/core/method.py", "p_avg.lerp_(p, 1.0 - beta)",
           "p_avg.lerp_(p, beta)", (f"{LEVERS}::test_the_moving_average_follows_stylegan2_adas_rule",)),
    Mutant("ema-without-ramp-up", "training step", "eggan/core/method.py",
           "half_life = min(self.ema_half_life, EMA_RAMPUP * (step + 1))", "half_life = self.ema_half_life",
           (f"{LEVERS}::test_the_moving_average_follows_stylegan2_adas_rule",)),
    Mutant("ema-unused-at-inference", "training step", "eggan/core/method.py",
           'return self.nets[f"{name}_ema"] if f"{name}_ema" in self.nets else self.nets[name]',
           "return self.nets[name]", (f"{LEVERS}::test_the_moving_average_follows_stylegan2_adas_rule",)),
    Mutant("exp-blur-one-sigma", "training step", "eggan/core/imageops.py",
           "blur(images, torch.rand(len(images), device=images.device) * max_sigma)",
           "blur(images, torch.full((len(images),), max_sigma, device=images.device))",
           ("tests/test_indomain.py::test_random_blur_gives_each_image_its_own_sigma_uniform_up_to_the_maximum",
            f"{LEVERS}::test_c_exp_reads_blurred_images_when_asked")),
    # --- reports -----------------------------------------------------------------------------------------
    Mutant("ablation-bolds-highest-mse", "report", "reports/tables.py",
           "_best_by_column(values, [True] * len(rows), [False, True, True])",
           "_best_by_column(values, [True] * len(rows), [True, True, True])",
           (f"{REPORTS}::test_every_table_bolds_exactly_the_best_cells",), required=True),
    Mutant("latex-headers-unescaped", "report", "reports/tables.py", "[_tex(c) for c in table.columns]",
           "list(table.columns)", (f"{REPORTS}::test_every_latex_table_is_fully_escaped",), required=True),
    Mutant("format-tag-unchecked", "report", "reports/results.py", 'results.get("format") != RESULTS_FORMAT',
           '"rows" not in results', ("tests/test_bad_input.py::test_a_malformed_results_file_is_one_line",),
           required=True),
    Mutant("reference-rows-eligible", "report", "reports/tables.py", 'eligible.append(row["kind"] == "method")',
           "eligible.append(True)", (f"{REPORTS}::test_every_table_bolds_exactly_the_best_cells",)),
    Mutant("best-of-one", "report", "reports/tables.py", "if sum(defined) < 2:", "if sum(defined) < 1:",
           (f"{REPORTS}::test_a_single_method_is_never_bold",)),
    Mutant("throughput-bolds-slowest", "report", "reports/tables.py",
           "_best_by_column(values, [True] * len(labels), [True] * len(sizes))",
           "_best_by_column(values, [True] * len(labels), [False] * len(sizes))",
           (f"{REPORTS}::test_every_table_bolds_exactly_the_best_cells",)),
    Mutant("caption-unescaped", "report", "reports/tables.py",
           'caption = _tex(table.caption + "".join(f" Note: {n}" for n in table.notes))',
           'caption = table.caption + "".join(f" Note: {n}" for n in table.notes)',
           (f"{REPORTS}::test_every_latex_table_is_fully_escaped",)),
    Mutant("checkpoint-format-unchecked", "report", "eggan/core/checkpoint.py", 'payload.get("format") != FORMAT',
           '"format" not in payload', (f"{TRAIN}::test_checkpoint_errors",)),
    # --- data --------------------------------------------------------------------------------------------
    Mutant("generated-aligned-by-target", "evaluation", "evaluate/protocol.py",
           "verifier.features(generated, reference.source[chunk])",
           "verifier.features(generated, reference.target[chunk])",
           ("tests/test_alignment.py::test_a_generated_image_is_aligned_by_its_sources_landmarks",)),
    Mutant("alignment-eyes-at-mouth-height", "evaluation", "evaluate/alignment.py",
           "target = torch.tensor([(size - 1) / 2, EC_Y * scale]",
           "target = torch.tensor([(size - 1) / 2, EC_MC_Y * scale]",
           ("tests/test_alignment.py::test_alignment_puts_eyes_and_mouth_where_the_authors_do",)),
    Mutant("landmark-left-eye-off-by-one", "data", "eggan/data/landmarks.py", "LEFT_EYE = tuple(range(42, 48))",
           "LEFT_EYE = tuple(range(41, 47))",
           ("tests/test_alignment.py::test_the_five_points_come_from_the_documented_openface_indices",)),
    Mutant("luma-green-blue-swapped", "data", "evaluate/identity.py", "LUMA = (0.299, 0.587, 0.114)",
           "LUMA = (0.299, 0.114, 0.587)", ("tests/test_identity.py::test_to_gray_uses_luma_weights_and_resizes",),
           required=True),
    Mutant("video-frames-counted-from-0", "data", "eggan/data/video.py", "    count = 0\n", "    count = -1\n",
           ("tests/test_video.py::test_each_wanted_frame_is_that_frame_and_the_count_is_the_video_length",)),
    Mutant("disfa-camera-is-an-identity", "data", "eggan/data/disfa_tree.py", "identity=subject, aus=",
           'identity=f"{subject}-{camera}", aus=',
           ("tests/test_disfa_tree.py::test_both_cameras_one_identity_every_kth_labelled_frame",)),
    Mutant("disfa-uncoded-au-as-0", "data", "eggan/data/disfa_tree.py",
           "by_column[c][frame] if c in by_column else math.nan", "by_column[c][frame] if c in by_column else 0.0",
           ("tests/test_disfa_tree.py::test_both_cameras_one_identity_every_kth_labelled_frame",)),
    Mutant("mmi-onset-for-apex", "data", "eggan/data/mmi.py", "sorted({e.apex for e in events or []",
           "sorted({e.onset for e in events or []",
           ("tests/test_mmi.py::test_video_sessions_give_the_apex_frames_with_openface_aus_of_that_frame",)),
)


def copy_tree(destination: Path) -> None:
    """The files git would commit (tracked, and untracked but not ignored), as they are now."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_tests(tree: Path, tests: tuple[str, ...], timeout: float, threads: int) -> tuple[str, float, str]:
    """``killed`` (a test failed), ``survived`` (all passed), ``error`` (pytest could not run them) or
    ``timeout``, the seconds taken and the tail of pytest's output."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", *tests]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start, ""
    status = {0: "survived", 1: "killed"}.get(done.returncode, "error")
    return status, time.perf_counter() - start, (done.stdout + done.stderr)[-1500:]


def check_tree_is_imported(tree: Path) -> None:
    """The copy's packages, not the editable install's, are what its tests import."""
    probe = "import eggan, evaluate, reports, baselines; print(eggan.__file__)"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run([sys.executable, "-c", probe], cwd=tree, env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the copy is not what Python imports ({where}); run from the repository's virtual env")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutant names")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--check", action="store_true", help="check every mutant still applies, and exit")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per mutant (a hang guard)")
    parser.add_argument("--target", type=float, default=0.9, help="the kill rate to reach")
    parser.add_argument("--no-baseline", action="store_true", help="no baseline run of the unmutated tests")
    parser.add_argument("--verbose", action="store_true", help="pytest's output for every surviving mutant")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once, each in its own copy of the "
                        "tree with cores / jobs torch threads")
    args = parser.parse_args()
    chosen = list(MUTANTS)
    if args.only:
        names = args.only.split(",")
        unknown = sorted(set(names) - {m.name for m in MUTANTS})
        if unknown:
            parser.error(f"unknown mutants: {', '.join(unknown)}")
        chosen = [m for m in MUTANTS if m.name in names]
    if args.list:
        for m in chosen:
            print(f"{m.name:40} {m.kind:14} {m.path:32} {'required ' if m.required else ''}{' '.join(m.tests)}")
        return 0
    if len({m.name for m in MUTANTS}) != len(MUTANTS):
        raise SystemExit("two mutants share a name")

    for m in chosen:
        try:
            m.apply((ROOT / m.path).read_text())
        except StaleMutant as exc:
            print(f"stale mutant: {exc}", file=sys.stderr)
            return 2
    if args.check:
        print(f"{len(chosen)} mutants apply")
        return 0
    started = time.perf_counter()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    with tempfile.TemporaryDirectory(prefix="eggan-mutants-") as folder:
        trees = [Path(folder) / f"tree{i}" for i in range(args.jobs)]
        for tree in trees:
            copy_tree(tree)
        check_tree_is_imported(trees[0])
        if not args.no_baseline:
            selection = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            status, seconds, output = run_tests(trees[0], selection, args.timeout, threads)
            print(f"unmutated tests: {'pass' if status == 'survived' else status} ({seconds:.0f} s)", flush=True)
            if status != "survived":
                print(output, file=sys.stderr)
                return 1
        free: queue.Queue[Path] = queue.Queue()
        for tree in trees:
            free.put(tree)
        done: list[tuple[Mutant, str, float]] = []
        lock = threading.Lock()

        def run(m: Mutant) -> None:
            tree = free.get()
            original = (tree / m.path).read_text()
            (tree / m.path).write_text(m.apply(original))
            try:
                status, seconds, output = run_tests(tree, m.tests, args.timeout, threads)
            finally:
                (tree / m.path).write_text(original)
                free.put(tree)
            with lock:
                done.append((m, status, seconds))
                print(f"[{len(done)}/{len(chosen)}] {status:8} {seconds:6.0f} s  {m.name} ({m.kind}, {m.path})",
                      flush=True)
                if status != "killed" and args.verbose:
                    print(output, flush=True)

        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(run, chosen))
    order = {m.name: i for i, m in enumerate(chosen)}
    return report(sorted(done, key=lambda r: order[r[0].name]), time.perf_counter() - started, args.target)


def report(results: list[tuple[Mutant, str, float]], seconds: float, target: float) -> int:
    killed = [m for m, status, _ in results if status == "killed"]
    alive = [(m, status) for m, status, _ in results if status != "killed"]
    rate = len(killed) / len(results)
    print(f"\n{len(killed)} of {len(results)} mutants killed ({100 * rate:.1f} %) in {seconds / 60:.1f} min")
    kinds = sorted({m.kind for m, _, _ in results})
    for kind in kinds:
        of_kind = [status for m, status, _ in results if m.kind == kind]
        print(f"  {kind:14} {of_kind.count('killed')}/{len(of_kind)}")
    for m, status in alive:
        print(f"  {status}: {m.name} ({m.path}: {m.old!r} -> {m.new!r})")
    missed_required = [m.name for m, _ in alive if m.required]
    if missed_required:
        print(f"required mutants not killed: {', '.join(missed_required)}")
    return 0 if rate >= target and not missed_required else 1


if __name__ == "__main__":
    sys.exit(main())
