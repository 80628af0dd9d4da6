/**
 * The Standard Schema interface (https://standardschema.dev), declared here rather than imported, as
 * the spec recommends. Zod, Valibot, ArkType and others implement it.
 */
export interface StandardSchemaV1<TInput = unknown, TOutput = TInput> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    /** Validates `value`: answers its output, or the issues (asynchronous schemas answer a promise). */
    readonly validate: (value: unknown) => StandardSchemaV1.Result<TOutput> | Promise<StandardSchemaV1.Result<TOutput>>;
    readonly types?: { readonly input: TInput; readonly output: TOutput } | undefined;
  };
}

export declare namespace StandardSchemaV1 {
  /** What `validate` answers: the output `value`, or the `issues` that made it fail. */
  type Result<TOutput> =
    | { readonly value: TOutput; readonly issues?: undefined }
    | { readonly issues: ReadonlyArray<Issue> };
  /** One reason validation failed: a `message`, and the `path` to the value when it is not the root. */
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
  }
  /** The type a schema's `validate` outputs on success. */
  type InferOutput<TSchema extends StandardSchemaV1> = NonNullable<TSchema["~standard"]["types"]>["output"];
}
