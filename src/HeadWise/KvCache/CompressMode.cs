namespace HeadWise.KvCache;

/// <summary>
/// When a compressing cache compresses (<c>--compress</c>). A ratio budget is a fraction of the tokens in the cache when it
/// compresses: the context (<see cref="Context"/>), context and question (<see cref="Question"/>), or the tokens so far
/// at every chunk and step (<see cref="Chunked"/>).
/// </summary>
public enum CompressMode
{
    /// <summary>kvpress's protocol: prefill the context uncompressed, compress once, then question and answer run with the policy's decode behaviour.</summary>
    Context,
    /// <summary>As <see cref="Context"/>, but compress after the question, so the observation window holds it (the SnapKV paper's setting).</summary>
    Question,
    /// <summary>Compress after every prefill chunk and evict at every decode step (streaming).</summary>
    Chunked,
}

public static class CompressModes
{
    public static readonly string[] Names = ["context", "question", "chunked"];

    /// <summary>The default everywhere: kvpress's protocol.</summary>
    public const CompressMode Default = CompressMode.Context;

    public static CompressMode Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "context" => CompressMode.Context,
        "question" => CompressMode.Question,
        "chunked" => CompressMode.Chunked,
        _ => throw new HeadWiseException($"--compress '{text}' is not a compression point; valid choices: {string.Join(", ", Names)}"),
    };

    public static string Name(this CompressMode m) => Names[(int)m];
}
