"""`eggan-bench data ...`: render SynthFACS, look at a dataset, and turn real datasets (RaFD, StarGAN
folders, DISFA, MMI, OpenFace outputs) into dataset folders. Thin like the rest of the CLI: parse,
call one library function, print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eggan.errors import ConfigError
from eggan.limits import MAX_BAD_IMAGE_FRACTION

data_app = typer.Typer(help="Render SynthFACS, look at a dataset, ingest real datasets.", no_args_is_help=True)
Force = Annotated[bool, typer.Option(help="Replace OUT when it is already a dataset (else refused).")]


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Option(help="Folder to render into (images/ and index.csv).")],
    size: Annotated[int, typer.Option(help="Image size: 32, 64, 128 or 256.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of identities, expressions and the split.")] = 0,
    identities: Annotated[int, typer.Option(help="Number of people.")] = 80,
    test_identities: Annotated[int, typer.Option(help="People held out for testing.")] = 16,
    variants: Annotated[int, typer.Option(help="Images per person and expression.")] = 6,
    evaluator_identities: Annotated[
        int, typer.Option(help="More people, only for training the in-domain evaluators (the evaluator split).")
    ] = 64,
    force: Force = False,
) -> None:
    """Render the SynthFACS dataset.

    Procedural faces with exactly known identity and 17 AU intensities.

    \b
    Examples:
      eggan-bench data synth --out data/synthfacs64
      eggan-bench data synth --out data/synth128 --size 128 --seed 1 --identities 40 --test-identities 8 --variants 4
    """
    from eggan.data.synthfacs import default_counts, render_synthfacs

    render_synthfacs(out, size=size, identities=identities, test_identities=test_identities,
                     variants=variants, seed=seed, evaluator_identities=evaluator_identities, force=force)
    counts = default_counts(identities, test_identities, variants, evaluator_identities)
    typer.echo(f"{out}: {counts['images']} images of {identities + evaluator_identities} identities "
               f"({counts['train_images']} train, {counts['test_images']} test, "
               f"{counts['evaluator_images']} evaluator) at {size}x{size}")


@data_app.command("show")
def data_show(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder with index.csv.")],
    out: Annotated[Path, typer.Option(help="PNG figure to write.")],
    au_sweep: Annotated[bool, typer.Option(help="One SynthFACS face, each AU from 0 to 5.")] = False,
    identities: Annotated[int, typer.Option(help="Rows of the montage.")] = 6,
) -> None:
    """Write a dataset montage or a SynthFACS AU sweep.

    The montage has one row per identity and one column per expression, labelled; the sweep
    shows one SynthFACS face with each AU from 0 to 5.

    \b
    Examples:
      eggan-bench data show data/synthfacs64 --out figs/montage.png
      eggan-bench data show data/synthfacs64 --out figs/au_sweep.png --au-sweep
    """
    from eggan.data.montage import save_au_sweep, save_montage

    path = save_au_sweep(dataset, out) if au_sweep else save_montage(dataset, out, identities=identities)
    typer.echo(f"wrote {path}")

# Real-data readers (eggan/data/{rafd,folders,disfa,mmi,openface}.py): each writes a dataset folder.

AuSource = Annotated[
    Path,
    typer.Option("--au-csv-dir", help="OpenFace CSVs: a folder of per-image CSVs or one CSV with a name column."),
]
MinConfidence = Annotated[
    float,
    typer.Option(help="Drop OpenFace rows below this confidence; an image left with no row is skipped, listed in "
                 "dataset.json and counted against --max-failed."),
]
MaxFailed = Annotated[
    float,
    typer.Option(help="Largest share of images that may be skipped (unreadable, or no face: OpenFace success=0 or "
                 "below --min-confidence) before the dataset is refused; each is listed in dataset.json."),
]
DatasetOut = Annotated[Path, typer.Option(help="Dataset folder to write.")]
SplitSeed = Annotated[int, typer.Option(help="Seed of the split by identity (person or subject).")]
TestFraction = Annotated[float, typer.Option(help="Share of identities (people or subjects) in the test split.")]


@data_app.command("rafd")
def data_rafd(
    src: Annotated[Path, typer.Argument(help="Folder with the official RaFD images (Rafd090_01_...jpg).")],
    au_csv_dir: AuSource,
    out: DatasetOut,
    all_angles: Annotated[bool, typer.Option(help="All five cameras instead of the frontal one.")] = False,
    angles: Annotated[str, typer.Option(help="Cameras to keep, e.g. 45,90,135 (the paper's 4,824).")] = "90",
    seed: SplitSeed = 0,
    test_fraction: TestFraction = 0.1,
    size: Annotated[int, typer.Option(help="Side of the saved face crops.")] = 128,
    crop: Annotated[
        list[str] | None,
        typer.Option(help="A camera's face box, ANGLE=LEFT,TOP,SIZE in the 681x1024 frame (repeatable), e.g. "
                     "000=40,150,500; the default boxes (90,150,500 for every angle) are geometric estimates."),
    ] = None,
    aligned_dir: Annotated[
        Path | None, typer.Option(help="OpenFace aligned faces to use instead of the crop boxes.")
    ] = None,
    min_confidence: MinConfidence = 0.0,
    force: Force = False,
    max_failed: MaxFailed = MAX_BAD_IMAGE_FRACTION,
) -> None:
    """Turn RaFD into a dataset folder.

    Faces cut with their camera's crop box (or OpenFace's aligned faces), with their OpenFace AUs
    and, where the CSVs have landmarks, the 5 points LightCNN's alignment uses (landmarks.csv).

    \b
    Examples:
      eggan-bench data rafd ~/RaFD --au-csv-dir ~/rafd-openface --out data/rafd
      eggan-bench data rafd ~/RaFD --au-csv-dir ~/rafd-openface --angles 45,90,135 --out data/rafd3
      eggan-bench data rafd ~/RaFD --au-csv-dir ~/rafd-openface --all-angles --crop 000=40,150,500 --out data/rafd5
      eggan-bench data rafd ~/RaFD --au-csv-dir aus --aligned-dir aus --out data/rafd-aligned
    """
    from eggan.data.rafd import ANGLES, ingest_rafd, parse_crops

    try:
        chosen = ANGLES if all_angles else tuple(int(a) for a in angles.split(",") if a.strip())
    except ValueError:
        raise ConfigError(f"--angles {angles!r} must be comma-separated integers") from None
    report = ingest_rafd(src, au_csv_dir, out, angles=chosen, seed=seed, test_fraction=test_fraction,
                         size=size, crops=parse_crops(crop or []), aligned_dir=aligned_dir,
                         min_confidence=min_confidence,
                         force=force, max_failed=max_failed)
    typer.echo(report.line())


@data_app.command("folders")
def data_folders(
    src: Annotated[Path, typer.Argument(help="Folder with train/<expression>/ and test/<expression>/.")],
    au_csv_dir: AuSource,
    out: DatasetOut,
    identity_pattern: Annotated[
        str | None, typer.Option(help="Regex on file names; group 'identity' (default: RaFD names).")
    ] = None,
    min_confidence: MinConfidence = 0.0,
    force: Force = False,
    max_failed: MaxFailed = MAX_BAD_IMAGE_FRACTION,
) -> None:
    """Turn a StarGAN-layout folder into a dataset folder.

    The folder's train/ and test/ split is kept; the AUs come from OpenFace CSVs.

    \b
    Examples:
      eggan-bench data folders data/RaFD --au-csv-dir data/RaFD-openface --out data/rafd-stargan
      eggan-bench data folders faces --au-csv-dir aus --out data/faces --identity-pattern '^(\\w+?)_'
    """
    from eggan.data.folders import RAFD_IDENTITY_PATTERN, ingest_folders

    report = ingest_folders(src, au_csv_dir, out, identity_pattern or RAFD_IDENTITY_PATTERN,
                            min_confidence=min_confidence, force=force, max_failed=max_failed)
    typer.echo(report.line())


@data_app.command("disfa")
def data_disfa(
    source: Annotated[Path, typer.Argument(
        help="The DISFA root as distributed (ActionUnit_Labels/, Videos_LeftCamera/), or the EGGAN authors' list "
             "file ('filename v1 ... v17' per line).")],
    images: Annotated[
        Path | None, typer.Argument(help="With the authors' list only: the folder of their aligned faces.")
    ] = None,
    *,
    out: DatasetOut,
    cameras: Annotated[
        str | None, typer.Option(help="DISFA root: left, or both (both cameras, one identity per subject). "
                                      "Default left.")
    ] = None,
    every: Annotated[
        int | None, typer.Option(help="DISFA root: keep every k-th labelled frame (default 10: 485 of a "
                                      "subject's 4,845 frames per camera).")
    ] = None,
    crop_box: Annotated[
        str | None, typer.Option(help="DISFA root: left,top,right,bottom in video pixels, cut from every frame "
                                      "(default: whole frames).")
    ] = None,
    image_level_split: Annotated[
        bool, typer.Option(help="The authors' list only: their split (seed 1234 shuffle, first 20,000 lines "
                                "test; subjects leak).")
    ] = False,
    seed: SplitSeed = 0,
    test_fraction: TestFraction = 0.1,
    force: Force = False,
    max_failed: MaxFailed = MAX_BAD_IMAGE_FRACTION,
) -> None:
    """Turn DISFA into a dataset folder.

    Given the DISFA root, its labelled video frames are extracted (AUs from ActionUnit_Labels, the
    5 AUs DISFA does not code left missing); given the EGGAN authors' list file and their aligned
    faces, those are copied.

    \b
    Examples:
      eggan-bench data disfa ~/DISFA --out data/disfa-tree
      eggan-bench data disfa ~/DISFA --cameras both --every 20 --out data/disfa-both
      eggan-bench data disfa ~/DISFA --crop-box 262,84,762,584 --out data/disfa-face
      eggan-bench data disfa disfa_list.txt ~/DISFA/aligned --out data/disfa
      eggan-bench data disfa disfa_list.txt ~/DISFA/aligned --out data/disfa-authors --image-level-split
    """
    if source.is_dir():
        from eggan.data.disfa_tree import DEFAULT_EVERY, ingest_disfa_tree

        if images is not None or image_level_split:
            raise ConfigError(f"{source} is a DISFA root: it takes no IMAGES folder and no --image-level-split "
                              "(those are for the authors' list file)")
        box: tuple[int, int, int, int] | None = None
        if crop_box is not None:
            try:
                values = [int(v) for v in crop_box.split(",")]
            except ValueError:
                raise ConfigError(f"--crop-box {crop_box!r} must be four comma-separated integers") from None
            if len(values) != 4:
                raise ConfigError(f"--crop-box {crop_box!r} needs four numbers: left,top,right,bottom")
            box = (values[0], values[1], values[2], values[3])
        report = ingest_disfa_tree(source, out, cameras=cameras or "left",
                                   every=DEFAULT_EVERY if every is None else every, seed=seed,
                                   test_fraction=test_fraction, force=force, max_failed=max_failed,
                                   crop_box=box)
    else:
        from eggan.data.disfa import ingest_disfa

        if images is None:
            raise ConfigError(f"{source} is not a DISFA root folder; the authors' list file needs its IMAGES "
                              "folder after it")
        if cameras is not None or every is not None or crop_box is not None:
            raise ConfigError("--cameras, --every and --crop-box apply to a DISFA root, not to the authors' list")
        report = ingest_disfa(source, images, out, image_level_split=image_level_split, seed=seed,
                              test_fraction=test_fraction, force=force, max_failed=max_failed)
    typer.echo(report.line())


@data_app.command("mmi")
def data_mmi(
    src: Annotated[Path, typer.Argument(
        help="MMI's Sessions/ as distributed (<n>/<id>.avi, <id>-oao_aucs.xml, session.xml), or extracted frames "
             "in SRC/<subject>/<session>/ or SRC/<session>/ + session.xml.")],
    au_csv_dir: Annotated[
        Path, typer.Option(help="OpenFace CSVs: FeatureExtraction's <id>.csv per video, or per frame / per session.")
    ],
    out: DatasetOut,
    frames: Annotated[
        str, typer.Option(help="Videos: apex (each coded AU event's apex frame, from <id>-oao_aucs.xml) or all "
                               "(every --every-th frame).")
    ] = "apex",
    every: Annotated[
        int, typer.Option(help="Keep every k-th frame of a session (extracted frames, or --frames all).")
    ] = 1,
    subjects: Annotated[
        Path | None, typer.Option(help="CSV with header session,subject: who is in each session (else session.xml).")
    ] = None,
    seed: SplitSeed = 0,
    test_fraction: TestFraction = 0.1,
    min_confidence: MinConfidence = 0.0,
    force: Force = False,
    max_failed: MaxFailed = MAX_BAD_IMAGE_FRACTION,
) -> None:
    """Turn MMI sessions or frames into a dataset folder.

    Sessions as distributed give the apex frames of their coded AUs (or every k-th frame); the
    AU intensities come from OpenFace's CSVs.

    \b
    Examples:
      eggan-bench data mmi ~/MMI/Sessions --au-csv-dir mmi-aus --subjects subjects.csv --out data/mmi-apex
      eggan-bench data mmi ~/MMI/Sessions --au-csv-dir mmi-aus --frames all --every 5 --out data/mmi-all
      eggan-bench data mmi ~/MMI/frames --au-csv-dir ~/MMI/openface --out data/mmi
      eggan-bench data mmi ~/MMI/frames --au-csv-dir ~/MMI/openface --out data/mmi-every5 --every 5
    """
    from eggan.data.mmi import ingest_mmi

    report = ingest_mmi(src, au_csv_dir, out, every=every, seed=seed, test_fraction=test_fraction,
                        min_confidence=min_confidence, force=force, max_failed=max_failed, frames=frames,
                        subjects=subjects)
    typer.echo(report.line())


@data_app.command("openface")
def data_openface(
    images: Annotated[Path, typer.Argument(help="An image or a folder of images (searched recursively).")],
    out: Annotated[Path, typer.Option(help="Folder for the CSVs (mirrors the image folders).")],
    binary: Annotated[
        Path | None, typer.Option(help="FaceLandmarkImg or FeatureExtraction (default: found on PATH).")
    ] = None,
    aligned_size: Annotated[
        int | None, typer.Option(help="Also save aligned faces of this size (for data rafd --aligned-dir).")
    ] = None,
) -> None:
    """Run OpenFace once per image and write one CSV per image.

    OpenFace 2.x with its static AU models, never one sequence across people.

    \b
    Examples:
      eggan-bench data openface ~/RaFD --out ~/rafd-openface
      eggan-bench data openface faces/ --out aus/ --binary ~/OpenFace/build/bin/FaceLandmarkImg
    """
    from eggan.data.ingest import list_images
    from eggan.data.openface import run_openface

    files = [images] if images.is_file() else list_images(images)
    root = images if images.is_dir() else images.parent
    done = run_openface(files, out, binary=binary, root=root, aligned_size=aligned_size)
    typer.echo(f"{out}: {len(done)} CSVs for {len(files)} images ({len(files) - len(done)} without a face)")
