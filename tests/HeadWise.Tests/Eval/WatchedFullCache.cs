using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;
using static TorchSharp.torch;

namespace HeadWise.Tests.Eval;

/// <summary>
/// A full cache that a test wraps to watch (or slow) what the harness does to it: attention and lengths are the full
/// cache's; a test overrides only the calls it records.
/// </summary>
internal abstract class WatchedFullCache(FullKvCache inner) : IKvCache
{
    protected FullKvCache Inner => inner;
    public long Length => inner.Length;
    public long Bytes => inner.Bytes;
    public long PeakBytes => inner.PeakBytes;
    public long MaxLength => inner.MaxLength;
    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention) => inner.Attend(layer, q, k, v, attention);
    public virtual void Advance(long t) => inner.Advance(t);
    public virtual void Compress() => inner.Compress();
    public virtual void Dispose() => inner.Dispose();
}

/// <summary>Hands the harness "full" caches (every position kept) wrapped by <see cref="Wrap"/>.</summary>
internal abstract class WatchedFullCacheFactory(CompressMode mode) : IKvCacheFactory
{
    public string Policy => "full";
    public KvBudget Budget => KvBudget.All;
    public CompressMode Compress => mode;
    public virtual IKvCache Create(LoadedModel model, int contextTokens) => Wrap(new FullKvCache(model.Spec));
    protected abstract IKvCache Wrap(FullKvCache cache);
}
