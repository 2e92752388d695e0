using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `longheads` (LongHeads, Lu et al. 2024, "LongHeads: Multi-Head Attention is Secretly a Long Context Processor"):
/// the full cache is kept, split into chunks of <see cref="Chunk"/> positions (paper: 256). Each query head, for each
/// query, attends <see cref="WindowChunks"/> chunks: the first, the top-scoring ones by its query against each chunk's
/// representative key, and the local ones (the chunk before the query's and the query's own, up to the query), laid out
/// one after another at positions 0.. so that what a head attends stays within the trained context. A rotary model so
/// runs past its trained length without training. Selection and remapping: <see cref="LongHeadsKvCache"/>.
/// </summary>
public sealed class LongHeadsPolicy : KvPolicy
{
    public static PolicyDeclaration Declaration { get; } = new("longheads", "LongHeads (Lu et al. 2024)",
        "keeps the full cache; per query, each head attends the first chunk, its best-matching chunks and the local chunks at positions remapped into its window, so a rotary model runs past its trained length",
        [
            PolicyParameter.Integer("chunk", 256, "positions per chunk (the paper's 256: 16 chunks in its 4,096-token window; chunk=128 keeps 16 in a 2,048-token one)", min: 1),
            PolicyParameter.OptionalInteger("window", "context", "tokens each head attends, in whole chunks, at most the model's trained context (the paper's atten_length: the trained context)", min: 1),
        ],
        a => new LongHeadsPolicy(a.Spec, a.Integer("chunk"), a.OptionalInteger("window"))) { TakesBudget = false };

    /// <summary>Chunks a head attends at the least: the first, one chosen by score, the previous and the query's own.</summary>
    public const int MinWindowChunks = 4;

    public LongHeadsPolicy(ModelSpec spec, int chunk, int? window) : base(spec, KvBudget.All)
    {
        long w = window ?? spec.ContextLength;
        if (chunk < 1) throw new HeadWiseException($"longheads: chunk={chunk} must be >= 1");
        if (w > spec.ContextLength)
            throw new HeadWiseException($"longheads: window={w} exceeds the model's trained context of {spec.ContextLength}; what a head attends must stay within it");
        if (w / chunk < MinWindowChunks)
            throw new HeadWiseException($"longheads: window={w} holds {w / chunk} chunks of chunk={chunk}; it needs at least {MinWindowChunks} " +
                                        $"(the first, one selected, the previous and the local chunk): use window >= {MinWindowChunks * (long)chunk} or a smaller chunk");
        Chunk = chunk;
        WindowChunks = (int)(w / chunk);
    }

    public int Chunk { get; }

    /// <summary>Chunks each head attends per query (window / chunk, rounded down).</summary>
    public int WindowChunks { get; }

    public override string Name => "longheads";
    public override bool EvictsWhileDecoding => false;

    /// <summary>Any length: what a head attends is remapped into its window (for rotary models; learned positions cannot extend).</summary>
    public override long MaxLength => int.MaxValue;

    public override long Capacity(int layer, int head, long length) => length;
    public override int[]?[] Evictions(LayerView layer) => new int[]?[layer.Heads.Length];
    public override IKvCache CreateCache(CompressMode mode) => new LongHeadsKvCache(this);
}
