using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (SampleRunner's finally): the harness disposes every cache it makes, one per sample, for tasks scored on
/// the prompt (copy) and for tasks that decode an answer (passkey), so a long sweep does not hold every sample's native
/// KV memory until the garbage collector runs.
/// </summary>
public class CacheDisposalTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Theory]
    [InlineData("copy", 41)]
    [InlineData("passkey", 120)]
    public void Every_cache_made_for_a_sample_is_disposed(string task, int length)
    {
        var factory = new CountingFactory();
        var o = new TaskOptions { Lengths = [length], Depths = [0.5], Samples = 2, Seed = 2 };
        BenchRunner.Run(Stories.Value, TaskRegistry.Create(task), o, factory);
        Assert.Equal(2, factory.Created);
        Assert.Equal(2, factory.Disposed);
    }

    private sealed class CountingFactory : IKvCacheFactory
    {
        public int Created, Disposed;
        public string Policy => "full";
        public KvBudget Budget => KvBudget.All;
        public CompressMode Compress => CompressMode.Context;
        public IKvCache Create(LoadedModel model, int contextTokens)
        {
            Created++;
            return new Counted(new FullKvCache(model.Spec), this);
        }
    }

    private sealed class Counted(FullKvCache inner, CountingFactory f) : IKvCache
    {
        public long Length => inner.Length;
        public long Bytes => inner.Bytes;
        public long PeakBytes => inner.PeakBytes;
        public long MaxLength => inner.MaxLength;
        public TorchSharp.torch.Tensor Attend(int layer, TorchSharp.torch.Tensor q, TorchSharp.torch.Tensor k, TorchSharp.torch.Tensor v, AttentionKernel attention) =>
            inner.Attend(layer, q, k, v, attention);
        public void Advance(long t) => inner.Advance(t);
        public void Compress() => inner.Compress();
        public void Dispose() { f.Disposed++; inner.Dispose(); }
    }
}
