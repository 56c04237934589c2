/* eslint-disable */
import * as types from './graphql.ts';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation FromPipe($name: String!, $from: String!, $task: Task!, $config: PipelineConfigInput) {\n  fromPipe(name: $name, from: $from, task: $task, config: $config) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineVariant {\n      name\n      from\n      model\n      task\n      pipelineClass\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on InvalidModelIndexError {\n      model\n      detail\n    }\n  }\n}": typeof types.FromPipeDocument,
    "mutation Generate($input: GenerateInput!) {\n  generate(input: $input) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on Generation {\n      model\n      task\n      pipelineClass\n      seedReproducible\n      nsfwContentDetected\n      notes\n      scheduler\n      seed\n      images {\n        width\n        height\n        mimeType\n        base64\n      }\n      timings {\n        totalMs\n        loadMs\n        imageDecodeMs\n        inferenceMs\n        sessionRunMs\n        sessionRuns\n        encodeMs\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on ModelLoadError {\n      model\n      component\n    }\n    ... on BusyError {\n      retryAfterMs\n    }\n  }\n}": typeof types.GenerateDocument,
    "mutation LoadPipeline($model: String!) {\n  loadPipeline(model: $model) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on LoadedPipeline {\n      model\n      tasks\n      components\n      bytes\n      loads\n      lastUsedAt\n    }\n    ... on ModelLoadError {\n      component\n    }\n  }\n}": typeof types.LoadPipelineDocument,
    "query Models {\n  models {\n    id\n    sourceClass\n    source\n  }\n}": typeof types.ModelsDocument,
    "query PipelineVariants {\n  pipelineVariants {\n    name\n    from\n    model\n    task\n    pipelineClass\n    config {\n      requiresSafetyChecker\n      scheduler\n      numInferenceSteps\n      guidanceScale\n      strength\n      negativePrompt\n      width\n      height\n    }\n  }\n}": typeof types.PipelineVariantsDocument,
    "query Pipelines {\n  pipelines {\n    model\n    tasks\n    components\n    bytes\n    loads\n    lastUsedAt\n    inUse\n  }\n}": typeof types.PipelinesDocument,
    "mutation RemovePipelineVariant($name: String!) {\n  removePipelineVariant(name: $name) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineVariant {\n      name\n      from\n      model\n      task\n      pipelineClass\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n  }\n}": typeof types.RemovePipelineVariantDocument,
    "query ResolvePipeline($model: String!, $task: Task!, $controlnet: Boolean = false, $enablePag: Boolean = false) {\n  resolvePipeline(\n    model: $model\n    task: $task\n    controlnet: $controlnet\n    enablePag: $enablePag\n  ) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineResolution {\n      model\n      task\n      sourceClass\n      family\n      pipelineClass\n      source\n      revision\n      runnable\n      reason\n      loaded\n      inpaintingMode\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n      components {\n        name\n        library\n        className\n      }\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on InvalidModelIndexError {\n      model\n      detail\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n  }\n}": typeof types.ResolvePipelineDocument,
    "query Schedulers {\n  schedulers {\n    name\n    className\n  }\n}": typeof types.SchedulersDocument,
    "mutation UnloadPipeline($model: String!) {\n  unloadPipeline(model: $model) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on UnloadedPipeline {\n      model\n      unloaded\n    }\n  }\n}": typeof types.UnloadPipelineDocument,
};
const documents: Documents = {
    "mutation FromPipe($name: String!, $from: String!, $task: Task!, $config: PipelineConfigInput) {\n  fromPipe(name: $name, from: $from, task: $task, config: $config) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineVariant {\n      name\n      from\n      model\n      task\n      pipelineClass\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on InvalidModelIndexError {\n      model\n      detail\n    }\n  }\n}": types.FromPipeDocument,
    "mutation Generate($input: GenerateInput!) {\n  generate(input: $input) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on Generation {\n      model\n      task\n      pipelineClass\n      seedReproducible\n      nsfwContentDetected\n      notes\n      scheduler\n      seed\n      images {\n        width\n        height\n        mimeType\n        base64\n      }\n      timings {\n        totalMs\n        loadMs\n        imageDecodeMs\n        inferenceMs\n        sessionRunMs\n        sessionRuns\n        encodeMs\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on ModelLoadError {\n      model\n      component\n    }\n    ... on BusyError {\n      retryAfterMs\n    }\n  }\n}": types.GenerateDocument,
    "mutation LoadPipeline($model: String!) {\n  loadPipeline(model: $model) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on LoadedPipeline {\n      model\n      tasks\n      components\n      bytes\n      loads\n      lastUsedAt\n    }\n    ... on ModelLoadError {\n      component\n    }\n  }\n}": types.LoadPipelineDocument,
    "query Models {\n  models {\n    id\n    sourceClass\n    source\n  }\n}": types.ModelsDocument,
    "query PipelineVariants {\n  pipelineVariants {\n    name\n    from\n    model\n    task\n    pipelineClass\n    config {\n      requiresSafetyChecker\n      scheduler\n      numInferenceSteps\n      guidanceScale\n      strength\n      negativePrompt\n      width\n      height\n    }\n  }\n}": types.PipelineVariantsDocument,
    "query Pipelines {\n  pipelines {\n    model\n    tasks\n    components\n    bytes\n    loads\n    lastUsedAt\n    inUse\n  }\n}": types.PipelinesDocument,
    "mutation RemovePipelineVariant($name: String!) {\n  removePipelineVariant(name: $name) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineVariant {\n      name\n      from\n      model\n      task\n      pipelineClass\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n  }\n}": types.RemovePipelineVariantDocument,
    "query ResolvePipeline($model: String!, $task: Task!, $controlnet: Boolean = false, $enablePag: Boolean = false) {\n  resolvePipeline(\n    model: $model\n    task: $task\n    controlnet: $controlnet\n    enablePag: $enablePag\n  ) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineResolution {\n      model\n      task\n      sourceClass\n      family\n      pipelineClass\n      source\n      revision\n      runnable\n      reason\n      loaded\n      inpaintingMode\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n      components {\n        name\n        library\n        className\n      }\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on InvalidModelIndexError {\n      model\n      detail\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n  }\n}": types.ResolvePipelineDocument,
    "query Schedulers {\n  schedulers {\n    name\n    className\n  }\n}": types.SchedulersDocument,
    "mutation UnloadPipeline($model: String!) {\n  unloadPipeline(model: $model) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on UnloadedPipeline {\n      model\n      unloaded\n    }\n  }\n}": types.UnloadPipelineDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation FromPipe($name: String!, $from: String!, $task: Task!, $config: PipelineConfigInput) {\n  fromPipe(name: $name, from: $from, task: $task, config: $config) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineVariant {\n      name\n      from\n      model\n      task\n      pipelineClass\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on InvalidModelIndexError {\n      model\n      detail\n    }\n  }\n}"): typeof import('./graphql.ts').FromPipeDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Generate($input: GenerateInput!) {\n  generate(input: $input) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on Generation {\n      model\n      task\n      pipelineClass\n      seedReproducible\n      nsfwContentDetected\n      notes\n      scheduler\n      seed\n      images {\n        width\n        height\n        mimeType\n        base64\n      }\n      timings {\n        totalMs\n        loadMs\n        imageDecodeMs\n        inferenceMs\n        sessionRunMs\n        sessionRuns\n        encodeMs\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on ModelLoadError {\n      model\n      component\n    }\n    ... on BusyError {\n      retryAfterMs\n    }\n  }\n}"): typeof import('./graphql.ts').GenerateDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation LoadPipeline($model: String!) {\n  loadPipeline(model: $model) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on LoadedPipeline {\n      model\n      tasks\n      components\n      bytes\n      loads\n      lastUsedAt\n    }\n    ... on ModelLoadError {\n      component\n    }\n  }\n}"): typeof import('./graphql.ts').LoadPipelineDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Models {\n  models {\n    id\n    sourceClass\n    source\n  }\n}"): typeof import('./graphql.ts').ModelsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query PipelineVariants {\n  pipelineVariants {\n    name\n    from\n    model\n    task\n    pipelineClass\n    config {\n      requiresSafetyChecker\n      scheduler\n      numInferenceSteps\n      guidanceScale\n      strength\n      negativePrompt\n      width\n      height\n    }\n  }\n}"): typeof import('./graphql.ts').PipelineVariantsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Pipelines {\n  pipelines {\n    model\n    tasks\n    components\n    bytes\n    loads\n    lastUsedAt\n    inUse\n  }\n}"): typeof import('./graphql.ts').PipelinesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RemovePipelineVariant($name: String!) {\n  removePipelineVariant(name: $name) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineVariant {\n      name\n      from\n      model\n      task\n      pipelineClass\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n  }\n}"): typeof import('./graphql.ts').RemovePipelineVariantDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ResolvePipeline($model: String!, $task: Task!, $controlnet: Boolean = false, $enablePag: Boolean = false) {\n  resolvePipeline(\n    model: $model\n    task: $task\n    controlnet: $controlnet\n    enablePag: $enablePag\n  ) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on PipelineResolution {\n      model\n      task\n      sourceClass\n      family\n      pipelineClass\n      source\n      revision\n      runnable\n      reason\n      loaded\n      inpaintingMode\n      config {\n        requiresSafetyChecker\n        scheduler\n        numInferenceSteps\n        guidanceScale\n        strength\n        negativePrompt\n        width\n        height\n      }\n      components {\n        name\n        library\n        className\n      }\n    }\n    ... on ModelNotFoundError {\n      model\n      searched\n    }\n    ... on UnsupportedPipelineError {\n      checkpointClass\n      checkpointFamily\n    }\n    ... on InvalidModelIndexError {\n      model\n      detail\n    }\n    ... on InvalidInputError {\n      field\n      value\n      allowed\n    }\n  }\n}"): typeof import('./graphql.ts').ResolvePipelineDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Schedulers {\n  schedulers {\n    name\n    className\n  }\n}"): typeof import('./graphql.ts').SchedulersDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UnloadPipeline($model: String!) {\n  unloadPipeline(model: $model) {\n    __typename\n    ... on Error {\n      message\n    }\n    ... on UnloadedPipeline {\n      model\n      unloaded\n    }\n  }\n}"): typeof import('./graphql.ts').UnloadPipelineDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
