"""The naive worker a user might write in an afternoon, as the benchmark's baseline: a Hugging Face
``pipeline`` per message on the same fine-tuned weights (fp32 torch), the whole article as one input
truncated at 512 tokens, mean-pooled, the type head read directly; alert = an escalatory type ≥ 0.5.

Run as a worker: ``python -m worker.benchmark.naive BOOTSTRAP INPUT_TOPIC OUTPUT_TOPIC GROUP`` publishes one
result per article (so its rate is counted from its output) and commits after each message."""

from __future__ import annotations

import json
import sys

import numpy as np

from worker.classifier.labels import ESCALATORY, TYPES

MAX_TOKENS = 512


class NaiveClassifier:
    def __init__(self, threads: int = 0):
        import torch
        from transformers import AutoTokenizer, pipeline

        from worker.classifier.model import cpu_quota, default_base_model, load_model

        self.net = load_model(backend="torch", num_threads=threads).net
        self.tokenizer = AutoTokenizer.from_pretrained(str(default_base_model()))
        torch.set_num_threads(threads or cpu_quota())
        self.pipe = pipeline("feature-extraction", model=self.net.encoder, tokenizer=self.tokenizer,
                             framework="pt", tokenize_kwargs={"truncation": True, "max_length": MAX_TOKENS})

    def tokens_read(self, text: str) -> int:
        return min(MAX_TOKENS, len(self.tokenizer(text)["input_ids"]))

    def classify(self, article: dict) -> dict:
        import torch

        with torch.inference_mode():
            hidden = self.pipe(article["text"], return_tensors=True)[0]
            probs = torch.sigmoid(self.net.type_head(hidden.mean(0))).numpy()
        signals = [TYPES[j] for j in np.flatnonzero(probs >= 0.5)]
        return {"id": article.get("id"), "alert": any(t in ESCALATORY for t in signals), "signals": signals}


def main(argv: list[str]) -> int:
    from kafka import KafkaConsumer, KafkaProducer

    bootstrap, input_topic, output_topic, group = argv
    classifier = NaiveClassifier()
    consumer = KafkaConsumer(input_topic, bootstrap_servers=bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    print("ready", flush=True)
    for record in consumer:
        result = classifier.classify(json.loads(record.value))
        producer.send(output_topic, json.dumps(result).encode("utf-8")).get()
        consumer.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
