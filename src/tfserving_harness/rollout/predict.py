"""Child process of `validate-model`: load one SavedModel version with TensorFlow and run its
signature once; prints one JSON line `{"input", "output"}` or `{"input", "error"}`.

Run as `python -m tfserving_harness.rollout.predict FOLDER SIGNATURE INPUT_JSON` (`null` input =
generated from the signature). Its own process so the parent can kill a graph that never returns.
"""

from __future__ import annotations

import json
import sys


def main(folder: str, signature: str, input_json: str) -> int:
    import tensorflow as tf

    from .validate import _json_ready, finite, sample_inputs_for

    given = json.loads(input_json)
    inputs = given
    try:
        function = tf.saved_model.load(folder, tags=["serve"]).signatures[signature]
        inputs = given if given is not None else sample_inputs_for(function.structured_input_signature)
        specs = function.structured_input_signature[1]
        tensors = {name: tf.constant(value, dtype=specs[name].dtype) for name, value in inputs.items()}
        outputs = {name: _json_ready(t.numpy().tolist()) for name, t in function(**tensors).items()}
    except Exception as error:  # anything the model raises is the check's answer
        print(json.dumps({"input": inputs, "error": f"{type(error).__name__}: {str(error).strip()[:600]}"}))
        return 1
    if not finite(list(outputs.values())):
        print(json.dumps({"input": inputs, "error": f"non-finite output {outputs}"}))
        return 1
    print(json.dumps({"input": inputs, "output": outputs}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
