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

    private sealed class CountingFactory() : WatchedFullCacheFactory(CompressMode.Context)
    {
        public int Created, Disposed;
        protected override IKvCache Wrap(FullKvCache cache)
        {
            Created++;
            return new Counted(cache, this);
        }
    }

    private sealed class Counted(FullKvCache inner, CountingFactory f) : WatchedFullCache(inner)
    {
        public override void Dispose() { f.Disposed++; Inner.Dispose(); }
    }
}
