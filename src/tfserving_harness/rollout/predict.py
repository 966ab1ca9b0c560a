"""Child process of `validate-model`: load SavedModel versions with TensorFlow and run their
signature once each; prints one JSON line per folder, `{"folder", "input", "output"}` or
`{"folder", "input", "error"}`.

Run as `python -m tfserving_harness.rollout.predict SIGNATURE INPUT_JSON FOLDER...` (`null` input =
generated from the signature). Its own process, so the parent can kill a graph that never returns;
one process for all versions, so TensorFlow is imported once.
"""

from __future__ import annotations

import json
import sys


def predict(tf, folder: str, signature: str, given):
    from .validate import _json_ready, finite, sample_inputs_for

    inputs = given
    try:
        function = tf.saved_model.load(folder, tags=["serve"]).signatures[signature]
        inputs = given if given is not None else sample_inputs_for(function.structured_input_signature)
        specs = function.structured_input_signature[1]
        tensors = {name: tf.constant(value, dtype=specs[name].dtype) for name, value in inputs.items()}
        outputs = {name: _json_ready(t.numpy().tolist()) for name, t in function(**tensors).items()}
    except Exception as error:  # anything the model raises is the check's answer
        return {"folder": folder, "input": inputs, "error": f"{type(error).__name__}: {str(error).strip()[:600]}"}
    if not finite(list(outputs.values())):
        return {"folder": folder, "input": inputs, "error": f"non-finite output {outputs}"}
    return {"folder": folder, "input": inputs, "output": outputs}


def main(signature: str, input_json: str, *folders: str) -> int:
    import tensorflow as tf

    given = json.loads(input_json)
    for folder in folders:
        print(json.dumps(predict(tf, folder, signature, given)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
