using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// Constructed attention cases: every query is the unit vector u; a key is c·u at "heavy" positions and 0 elsewhere,
/// so heavy positions draw nearly all attention (weight e^(c/2) against 1 at head size 4) and the answer is known.
/// </summary>
internal static class KvTestCases
{
    public const int HeadDim = 4;

    public static ModelSpec Spec(int layers = 1, int heads = 2, int kvHeads = 2, int context = 256) => new()
    {
        Architecture = "llama", Layers = layers, Dim = heads * HeadDim, Heads = heads, KvHeads = kvHeads, HeadDim = HeadDim,
        FfnDim = 8, VocabSize = 16, ContextLength = context,
    };

    /// <summary>Runs <paramref name="tokens"/> positions through every layer of <paramref name="cache"/>: a prefill chunk of
    /// <paramref name="prefill"/>, then one token at a time. heavy[kvHead] maps position → key scale.</summary>
    public static void Run(HeadWiseKvCache cache, ModelSpec spec, int tokens, int prefill, Func<int, long, float> keyScale)
    {
        for (long start = 0; start < tokens;)
        {
            int t = start == 0 ? Math.Min(prefill, tokens) : 1;
            using var scope = torch.NewDisposeScope();
            var (q, k, v) = Step(spec, start, t, keyScale);
            for (int l = 0; l < spec.Layers; l++) cache.Attend(l, q, k, v);
            cache.Advance(t);
            start += t;
        }
    }

    /// <summary>
    /// The protocol's one-shot compression on a constructed case: <paramref name="context"/> positions in one prefill chunk,
    /// <see cref="HeadWiseKvCache.Compress"/>, then <paramref name="decode"/> positions one at a time.
    /// </summary>
    public static void RunOneShot(HeadWiseKvCache cache, ModelSpec spec, int context, int decode, Func<int, long, float> keyScale)
    {
        for (long start = 0; start < context + decode;)
        {
            int t = start == 0 ? context : 1;
            using var scope = torch.NewDisposeScope();
            var (q, k, v) = Step(spec, start, t, keyScale);
            for (int l = 0; l < spec.Layers; l++) cache.Attend(l, q, k, v);
            cache.Advance(t);
            if (start == 0) cache.Compress();
            start += t;
        }
    }

    public static (Tensor Q, Tensor K, Tensor V) Step(ModelSpec spec, long start, int t, Func<int, long, float> keyScale)
    {
        var q = torch.zeros(1, spec.Heads, t, HeadDim);
        q[.., .., .., 0] = 1;
        var k = torch.zeros(1, spec.KvHeads, t, HeadDim);
        for (int h = 0; h < spec.KvHeads; h++)
            for (int i = 0; i < t; i++) k[0, h, i, 0] = keyScale(h, start + i);
        var v = torch.randn(1, spec.KvHeads, t, HeadDim);
        return (q, k, v);
    }

    public static long[] Range(long from, long toExclusive) => Enumerable.Range((int)from, (int)(toExclusive - from)).Select(i => (long)i).ToArray();
}
