using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;
using static TorchSharp.torch;

namespace HeadWise.Prefill;

/// <summary>
/// A full cache whose prefill attends sparsely: a forward call of several tokens attends each head's selected key segments
/// (<see cref="ISparsePrefill"/>, <see cref="BlockSparseAttention"/>); a single token (decoding) attends every key
/// exactly. A layer whose scores or pattern hooks read or edit (ZeroTuning, ACT) runs dense, since the sparse path builds
/// no pattern.
/// </summary>
public sealed class SparsePrefillCache(ModelSpec spec, ISparsePrefill method, PrefillStats? stats = null) : IKvCache
{
    private readonly FullKvCache _full = new(spec);

    public long Length => _full.Length;
    public long Bytes => _full.Bytes;
    public long PeakBytes => _full.PeakBytes;
    public long MaxLength => _full.MaxLength;

    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention)
    {
        var (keys, values) = _full.Append(layer, k, v);
        if (q.shape[2] == 1 || !spec.Causal || attention.HooksReadScores(layer)) return attention.Attend(layer, q, keys, values);
        var (bounds, selected) = method.Select(q, keys, values, attention.Rope);
        stats?.Add(selected);
        var all = selected.logical_or(ProxyAttn.Causal((int)selected.shape[1], bounds.Length - 1).logical_not().unsqueeze(0)).all().item<bool>();
        return all ? attention.Attend(layer, q, keys, values) : BlockSparseAttention.Attend(q, keys, values, bounds, selected);
    }

    public void Advance(long t) => _full.Advance(t);
    public void Compress() { }
    public void Dispose() => _full.Dispose();
}

/// <summary>
/// The bench harness's caches with a sparse prefill: the full cache (a KV policy that compresses is not combined with a
/// sparse prefill yet) whose prefill runs <see cref="Method"/>; <see cref="Stats"/> sums what every prompt computed.
/// </summary>
public sealed class SparsePrefillFactory : IKvCacheFactory
{
    public SparsePrefillFactory(IKvCacheFactory inner, ISparsePrefill method)
    {
        if (inner.Policy != "full")
            throw new HeadWiseException($"--prefill {method.Name} runs with the full cache; it is not combined with --policy {inner.Policy}");
        Inner = inner;
        Method = method;
    }

    public IKvCacheFactory Inner { get; }
    public ISparsePrefill Method { get; }
    public PrefillStats Stats { get; } = new();
    public string Policy => Inner.Policy;
    public KvBudget Budget => Inner.Budget;
    public CompressMode Compress => Inner.Compress;

    public IKvCache Create(LoadedModel model, int contextTokens) => new SparsePrefillCache(model.Spec, Method, Stats);

    /// <summary>How results record the prefill: "proxyattn block=128,...".</summary>
    public string Applied => $"{Method.Name} {Method.Parameters}";
}
