using HeadWise.Heads;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

/// <summary>The constructed model's heads do what <see cref="ConstructedHeads"/> says, before any score relies on it.</summary>
public sealed class ConstructedHeadsTests
{
    [Fact]
    public void EachBuiltHeadDoesItsJob()
    {
        var tok = new CharTokenizer(words: 40);
        using var model = ConstructedHeads.Build(tok);
        // BOS w0 w1 w2 w3 w4 w0: the last w0 occurred at position 1, so the copy head looks at position 2 and predicts w1.
        int[] ids = [1, tok.Word(0), tok.Word(1), tok.Word(2), tok.Word(3), tok.Word(4), tok.Word(0)];
        using var input = torch.tensor(ids.Select(x => (long)x).ToArray(), [1, ids.Length]);
        var captures = Enumerable.Range(0, ConstructedHeads.Layers).Select(l => new CaptureSpec(HookNames.ForLayer(l).Pattern)).ToList();
        var (logits, cache) = model.RunWithCache(input, captures);
        using (logits)
        using (cache)
        {
            Tensor Pattern((int Layer, int Head) h) => cache[HookNames.ForLayer(h.Layer).Pattern][0, h.Head];
            var local = Pattern(ConstructedHeads.Local);
            for (int t = 1; t < ids.Length; t++) Assert.True(local[t, t - 1].item<float>() > 0.99, $"local head at {t}");
            var sink = Pattern(ConstructedHeads.Sink);
            for (int t = 0; t < ids.Length; t++) Assert.True(sink[t, 0].item<float>() > 0.99, $"sink head at {t}");
            Assert.True(Pattern(ConstructedHeads.Copy)[ids.Length - 1, 2].item<float>() > 0.99);
            Assert.Equal(tok.Word(1), (int)logits[0, -1].argmax().item<long>());
            // The duplicate head at the last position (its previous token w4 is new) rests on BOS.
            Assert.True(Pattern(ConstructedHeads.Duplicate)[ids.Length - 1, 0].item<float>() > 0.99);
            var idle = Pattern((1, 0));
            Assert.Equal(1.0 / ids.Length, idle[ids.Length - 1, 3].item<float>(), 5);
        }
    }

    [Fact]
    public void DuplicateHeadMarksThePositionAfterARepeatedToken()
    {
        var tok = new CharTokenizer(words: 40);
        using var model = ConstructedHeads.Build(tok);
        // BOS w0 w1 w2 w1 w3: at position 5 the previous token (w1, position 4) occurred before, at position 2.
        int[] ids = [1, tok.Word(0), tok.Word(1), tok.Word(2), tok.Word(1), tok.Word(3)];
        using var input = torch.tensor(ids.Select(x => (long)x).ToArray(), [1, ids.Length]);
        var (logits, cache) = model.RunWithCache(input, [new CaptureSpec(HookNames.ForLayer(ConstructedHeads.Duplicate.Layer).Pattern)]);
        using (logits)
        using (cache)
        {
            var p = cache[HookNames.ForLayer(ConstructedHeads.Duplicate.Layer).Pattern][0, ConstructedHeads.Duplicate.Head];
            Assert.InRange(p[5, 2].item<float>(), 0.55, 0.65); // about e^10 / (e^10 + e^9.5) on the earlier w1, the rest on BOS
            Assert.InRange(p[5, 0].item<float>(), 0.35, 0.45);
            Assert.True(p[4, 0].item<float>() > 0.99); // w2 before position 4 is new
        }
    }
}
