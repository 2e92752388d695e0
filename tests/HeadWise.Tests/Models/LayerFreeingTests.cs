using System.Runtime.InteropServices;
using HeadWise.Heads;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Models;

/// <summary>
/// A forward call frees each layer's intermediates when the layer ends, unless hooks or autograd may read them later;
/// and a long call's allocations come from glibc's heap rather than fresh mappings (<see cref="HeapReuse"/>).
/// </summary>
public class LayerFreeingTests
{
    /// <summary>A full cache that keeps the query tensor each layer was handed, to ask later whether it is still alive.</summary>
    private sealed class QueryKeeper(ModelSpec spec) : IKvCache
    {
        private readonly FullKvCache _full = new(spec);
        public readonly List<(int Layer, Tensor Q, bool EarlierAlive)> Seen = [];
        public long Length => _full.Length;
        public long Bytes => _full.Bytes;
        public long PeakBytes => _full.PeakBytes;
        public long MaxLength => _full.MaxLength;
        public void Advance(long t) => _full.Advance(t);
        public void Compress() { }
        public void Dispose() => _full.Dispose();

        public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention)
        {
            bool earlierAlive = Seen.Count > 0 && !Seen[^1].Q.IsInvalid;
            Seen.Add((layer, q, earlierAlive));
            return _full.Attend(layer, q, k, v, attention);
        }
    }

    private sealed class ObserveResidual : IForwardHooks
    {
        public bool Wants(string name) => name == HookNames.ForLayer(0).ResidPost;
        public Tensor Apply(string name, Tensor x) => x;
        public IReadOnlyList<int>? PatternHeads(int layer) => null;
    }

    private static Tensor Tokens(int n) => torch.tensor(Enumerable.Range(0, n).Select(i => (long)(1 + i * 7 % 500)).ToArray()).unsqueeze(0);

    [Fact]
    public void Without_hooks_or_autograd_a_layer_frees_its_intermediates_before_the_next_layer_runs()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        using var cache = new QueryKeeper(m.Spec);
        using (torch.no_grad()) m.Transformer.Forward(Tokens(20), cache).Dispose();
        Assert.Equal(m.Spec.Layers, cache.Seen.Count);
        Assert.All(cache.Seen.Skip(1), s => Assert.False(s.EarlierAlive, $"layer {s.Layer - 1}'s query was alive when layer {s.Layer} ran"));
    }

    [Fact]
    public void With_hooks_or_autograd_every_layer_keeps_its_intermediates_until_the_call_ends_and_the_logits_are_the_same()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        Tensor freed, hooked, graded;
        using (var cache = new QueryKeeper(m.Spec))
        using (torch.no_grad())
            freed = m.Transformer.Forward(Tokens(20), cache);
        using (var cache = new QueryKeeper(m.Spec))
        {
            using (torch.no_grad()) hooked = m.Transformer.Forward(Tokens(20), cache, new ObserveResidual());
            Assert.All(cache.Seen.Skip(1), s => Assert.True(s.EarlierAlive, $"hooks: layer {s.Layer - 1}'s query was freed"));
        }
        using (var cache = new QueryKeeper(m.Spec))
        {
            using (torch.enable_grad()) graded = m.Transformer.Forward(Tokens(20), cache).detach();
            Assert.All(cache.Seen.Skip(1), s => Assert.True(s.EarlierAlive, $"autograd: layer {s.Layer - 1}'s query was freed"));
        }
        Assert.Equal(0, freed.sub(hooked).abs().max().item<float>());
        Assert.Equal(0, freed.sub(graded).abs().max().item<float>());
    }

    [Fact]
    public unsafe void Inside_a_long_calls_scope_a_large_block_comes_from_the_heap_not_a_fresh_mapping()
    {
        Assert.True(OperatingSystem.IsLinux());
        Assert.Null(HeapReuse.For(HeapReuse.MinTokens - 1)); // decode-sized calls are left alone
        using (var scope = HeapReuse.For(HeapReuse.MinTokens))
        {
            Assert.NotNull(scope); // glibc here, and no MALLOC_* tunables set in the test run
            // 48 MiB: over glibc's largest mmap threshold (32 MiB), under the 64 MiB a thread's own arena can grow to.
            var p = Marshal.AllocHGlobal(48 << 20); // malloc
            try
            {
                // glibc's chunk header sits just before the block: bit 1 of the size word marks a block served by mmap.
                ulong sizeWord = *(ulong*)(p - sizeof(ulong));
                Assert.Equal(0UL, sizeWord & 2);
            }
            finally { Marshal.FreeHGlobal(p); }
        }
    }
}
