"""Training: the trainer, run directories, checkpoints, cross-validation."""

from shallownet.training.checkpoint import load_checkpoint, save_checkpoint
from shallownet.training.config import RunConfig, TrainSettings, book_settings
from shallownet.training.crossval import cross_validate, kfold_indices
from shallownet.training.data import DataSpec, TrainingData, load_training_data
from shallownet.training.run import (
    RunResult,
    evaluate_run,
    predict_images,
    resume_run,
    train_run,
)
from shallownet.training.rundir import RunDir
from shallownet.training.trainer import Trainer

__all__ = [
    "DataSpec",
    "RunConfig",
    "RunDir",
    "RunResult",
    "Trainer",
    "TrainSettings",
    "TrainingData",
    "book_settings",
    "cross_validate",
    "evaluate_run",
    "kfold_indices",
    "load_checkpoint",
    "load_training_data",
    "predict_images",
    "resume_run",
    "save_checkpoint",
    "train_run",
]
