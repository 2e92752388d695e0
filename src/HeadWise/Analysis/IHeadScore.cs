using HeadWise.Models;

namespace HeadWise.Analysis;

/// <summary>One published way of scoring heads. Deterministic for a context's seed.</summary>
public interface IHeadScore
{
    /// <summary>The name the CLI and the atlas use (retrieval, sink, locality, ...).</summary>
    string Name { get; }

    /// <summary>Why this score cannot run on <paramref name="spec"/> (e.g. it needs generation and the model is an encoder); null when it can.</summary>
    string? Unsupported(ModelSpec spec);

    /// <summary>One or more maps (e.g. locality gives waad and fai).</summary>
    IReadOnlyList<HeadMap> Compute(ProfileContext context);
}
