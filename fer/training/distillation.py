"""Knowledge distillation: a student learns from a trained teacher's probabilities as well as
the labels (Hinton et al. 2015). FER2013's labels are noisy and many faces are ambiguous; the
teacher's soft targets carry that ambiguity to the small live model.

The training model outputs ``[student probs | teacher probs]`` (14 columns); the loss and the
accuracy metric below split them. Both are registered so that checkpoints load for --resume.
"""

from __future__ import annotations

import functools

from ..emotions import NUM_CLASSES


@functools.cache
def distillation_objects():
    """``(DistillationLoss, student_accuracy)``, defined on first use (imports Keras)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="fer")
    class DistillationLoss(keras.losses.Loss):
        """``(1 - alpha) * CE(labels, student) + alpha * T^2 * KL(teacher_T || student_T)``,
        where ``_T`` is the softmax of log-probabilities divided by the temperature T."""

        def __init__(
            self,
            alpha: float = 0.5,
            temperature: float = 2.0,
            label_smoothing: float = 0.1,
            name: str = "distillation",
            **kwargs,
        ):
            super().__init__(name=name, **kwargs)
            self.alpha, self.temperature, self.label_smoothing = alpha, temperature, label_smoothing

        def call(self, y_true, y_pred):
            student, teacher = y_pred[:, :NUM_CLASSES], y_pred[:, NUM_CLASSES:]
            ce = keras.losses.categorical_crossentropy(
                y_true, student, label_smoothing=self.label_smoothing
            )
            t = self.temperature
            log_s = ops.log_softmax(ops.log(student + 1e-7) / t, axis=-1)
            log_t = ops.log_softmax(ops.log(teacher + 1e-7) / t, axis=-1)
            kl = ops.sum(ops.exp(log_t) * (log_t - log_s), axis=-1) * t * t
            return (1.0 - self.alpha) * ce + self.alpha * kl

        def get_config(self):
            return {
                **super().get_config(),
                "alpha": self.alpha,
                "temperature": self.temperature,
                "label_smoothing": self.label_smoothing,
            }

    @keras.saving.register_keras_serializable(package="fer")
    def student_accuracy(y_true, y_pred):
        hit = ops.argmax(y_true, axis=-1) == ops.argmax(y_pred[:, :NUM_CLASSES], axis=-1)
        return ops.cast(hit, "float32")

    return DistillationLoss, student_accuracy


def distillation_model(student, teacher, augmenter):
    """Augment once; both networks see the same image. The teacher is frozen and runs in
    inference mode (no dropout, moving batch-norm statistics)."""
    import keras
    from keras import layers

    teacher.trainable = False
    inputs = keras.Input(student.input_shape[1:], name="face")
    # wrapped under its own name: a teacher of the student's architecture has its name too
    teacher_in = keras.Input(student.input_shape[1:], name="teacher_face")
    wrapped = keras.Model(teacher_in, teacher(teacher_in, training=False), name="teacher")
    augmented = augmenter(inputs)
    both = layers.Concatenate(name="student_teacher")(
        [student(augmented), wrapped(augmented, training=False)]
    )
    return keras.Model(inputs, both, name=f"{student.name}_distilled")
