#!/usr/bin/env python3
"""Variable-length chat data for bench/compare --data mix: prompt/completion pairs whose content is
spread evenly over 20 to 500 words (common English words, about one token each in SmolLM2's and
Llama's BPE vocabularies), the prompt 20-60% of each pair. The model's chat template adds its own
tokens (SmolLM2's: a default system turn of about 30). Seeded: every run trains on the same file."""
import argparse, json, random

WORDS = ("the of and to in is it that was for on are with as his they be at one have this from or had by word but what "
         "some we can out other were all there when up use your how said an each she which do their time if will way about "
         "many then them write would like so these her long make thing see him two has look more day could go come did "
         "number sound no most people my over know water than call first who may down side been now find any new work part "
         "take get place made live where after back little only round man year came show every good me give our under name "
         "very through just form sentence great think say help low line differ turn cause much mean before move right boy "
         "old too same tell does set three want air well also play small end put home read hand port large spell add even "
         "land here must big high such follow act why ask men change went light kind off need house picture try us again "
         "animal point mother world near build self earth father head stand own page should country found answer school "
         "grow study still learn plant cover food sun four between state keep eye never last let thought city tree cross "
         "farm hard start might story saw far sea draw left late run while press close night real life few north").split()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=512)
    p.add_argument("--min-words", type=int, default=20)
    p.add_argument("--max-words", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = random.Random(a.seed)
    with open(a.out, "w") as f:
        for _ in range(a.count):
            words = rng.randint(a.min_words, a.max_words)
            prompt = max(1, int(words * rng.uniform(0.2, 0.6)))
            text = [rng.choice(WORDS) for _ in range(words)]
            f.write(json.dumps({"prompt": " ".join(text[:prompt]), "completion": " ".join(text[prompt:])}) + "\n")


if __name__ == "__main__":
    main()
