"""Training: the trainer, its steps and callbacks, run directories, checkpoints, k-fold CV."""

from shallownet.training.callbacks import Callback
from shallownet.training.checkpoint import load_checkpoint, save_checkpoint
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.crossval import cross_validate, kfold_indices
from shallownet.training.data import DataSpec, TrainingData, load_training_data
from shallownet.training.evaluation import evaluate, predict
from shallownet.training.run import (
    RunResult,
    evaluate_run,
    predict_images,
    resume_run,
    train_run,
)
from shallownet.training.rundir import RunDir
from shallownet.training.steps import Step, StepChoice, choose_step
from shallownet.training.trainer import Trainer

__all__ = [
    "Callback",
    "DataSpec",
    "RunConfig",
    "RunDir",
    "RunResult",
    "Step",
    "StepChoice",
    "Trainer",
    "TrainSettings",
    "TrainingData",
    "choose_step",
    "cross_validate",
    "evaluate",
    "evaluate_run",
    "kfold_indices",
    "load_checkpoint",
    "load_training_data",
    "predict",
    "predict_images",
    "resume_run",
    "save_checkpoint",
    "train_run",
]
