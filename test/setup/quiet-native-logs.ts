/**
 * Test setup: onnxruntime's native logger writes straight to stderr, outside vitest's capture. The provider
 * fallback test provokes a CUDA library load failure on purpose (the server reports it itself, once, and uses
 * CPU); its native "Failed to load library" line is an expected error, so the native logger is limited to fatal
 * errors in tests. The level must be set before the first session of the process, hence a setup file.
 */
import * as ort from "onnxruntime-node";

ort.env.logLevel = "fatal";
