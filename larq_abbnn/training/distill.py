"""Knowledge distillation: the student learns the teacher's softmax (the paper's ImageNet loss).

The pattern of Keras's distillation example (a Model whose `train_step` runs the frozen
teacher), with one difference: the teacher's probabilities are passed to the *compiled*
loss as targets, so Keras's own loss reduction and its scaling under `tf.distribute`
apply unchanged. Compile with `CategoricalCrossentropy(from_logits=True)` (soft
cross-entropy) and the usual sparse-label metrics, which see the real labels.
"""

from __future__ import annotations

import tensorflow as tf


class Distiller(tf.keras.Model):
    """Trains `student` against `teacher`'s softmax; `call` is the student's."""

    def __init__(self, student: tf.keras.Model, teacher: tf.keras.Model, **kwargs):
        super().__init__(name=kwargs.pop("name", f"{student.name}_distiller"), **kwargs)
        if teacher.output_shape[-1] != student.output_shape[-1]:
            raise ValueError(
                f"teacher {teacher.name} has {teacher.output_shape[-1]} outputs, student "
                f"{student.name} has {student.output_shape[-1]}: they must classify the "
                "same classes"
            )
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def _teacher_probabilities(self, x):
        logits = self.teacher(x, training=False)
        return tf.cast(tf.nn.softmax(logits), self.student.output.dtype)

    def train_step(self, data):
        x, y = data
        soft = self._teacher_probabilities(x)
        with tf.GradientTape() as tape:
            logits = self.student(x, training=True)
            loss = self.compute_loss(x, soft, logits)
        self.optimizer.minimize(loss, self.student.trainable_variables, tape=tape)
        return self.compute_metrics(x, y, logits, None)

    def test_step(self, data):
        x, y = data
        logits = self.student(x, training=False)
        self.compute_loss(x, self._teacher_probabilities(x), logits)
        return self.compute_metrics(x, y, logits, None)
