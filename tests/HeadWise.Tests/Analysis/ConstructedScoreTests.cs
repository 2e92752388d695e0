using HeadWise.Analysis;
using HeadWise.Analysis.Scores;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// Scores run whole (prompts, decoding, captures) on <see cref="ConstructedHeads"/>, whose heads' jobs are known: the answer
/// each score must give holds by construction.
/// </summary>
public sealed class ConstructedScoreTests
{
    /// <summary>Without the tokenizer (<paramref name="withTokenizer"/> false), scores that word prompts fall back to probe-token prompts.</summary>
    private static ProfileContext Context(int documents = 3, int length = 32, bool withTokenizer = true)
    {
        var tok = new CharTokenizer(words: documents * (length - 1));
        return new ProfileContext(ConstructedHeads.Build(tok), withTokenizer ? tok : null, ConstructedHeads.Probes(tok, documents, length), seed: 1);
    }

    [Fact]
    public void QkSelectRanksTheSelectAndCopyHeadFirstAndOnlyItPicksTheRightOption()
    {
        using var ctx = Context();
        var map = new QkSelectScore(prompts: 12).Compute(ctx).Single();
        Assert.Equal(1.0, map[ConstructedHeads.Copy.Layer, ConstructedHeads.Copy.Head], 9);
        Assert.Equal(ConstructedHeads.Copy, map.Ranked()[0]);
        // Every other head sees equal keys at the four options (zero or the same mark): chance at best, never all right.
        Assert.All(map.Ranked().Skip(1), h => Assert.True(map[h.Layer, h.Head] < 0.5, $"head {h} scored {map[h.Layer, h.Head]}"));
    }

    /// <summary>
    /// A head blind to the options' contents picks the same letter every time; each question is asked with the right
    /// option at every letter, so such a head scores chance exactly, whatever letters the seed drew (12 drawn letters
    /// rarely split 3/3/3/3). Every head but the copy head here sees the same keys whatever the options are.
    /// </summary>
    [Fact]
    public void QkSelectScoresHeadsBlindToTheOptionsAtExactlyChance()
    {
        using var ctx = Context();
        var map = new QkSelectScore(prompts: 12).Compute(ctx).Single();
        Assert.All(map.Ranked().Skip(1), h => Assert.Equal(0.25, map[h.Layer, h.Head], 12));
    }

    /// <summary>The duplicate head's top key lies in the needle but holds the previous token: the token rule must reject it.</summary>
    [Fact]
    public void RetrievalScoresOneForTheCopyHeadAndZeroForEveryOtherHead()
    {
        using var ctx = Context();
        var map = new RetrievalScore(prompts: 4).Compute(ctx).Single();
        Assert.Equal(4, map.Params!["prompts_answered"]!.GetValue<int>());
        foreach (var (l, h) in map.Ranked())
            Assert.Equal((l, h) == ConstructedHeads.Copy ? 1.0 : 0.0, map[l, h], 9);
    }

    [Fact]
    public void RetrievalReasoningRanksTheCopyHeadFirstAndCountsTheDuplicateHeadsNeedleAttention()
    {
        using var ctx = Context(withTokenizer: false); // facts as probe-token spans: the char model cannot read sentences
        var map = new RetrievalReasoningScore(prompts: 4).Compute(ctx).Single();
        Assert.Equal(4, map.Params!["prompts_answered"]!.GetValue<int>());
        Assert.Equal(ConstructedHeads.Copy, map.Ranked()[0]);
        Assert.True(map[ConstructedHeads.Copy.Layer, ConstructedHeads.Copy.Head] > 0.99);
        // The duplicate head puts about 60% of its attention on the needle's copy of the previous token (no token rule here), the
        // sink and local heads none; idle heads spread theirs uniformly, so at most the needle's share of the keys.
        Assert.InRange(map[ConstructedHeads.Duplicate.Layer, ConstructedHeads.Duplicate.Head], 0.55, 0.65);
        Assert.Equal(0.0, map[ConstructedHeads.Sink.Layer, ConstructedHeads.Sink.Head], 6);
        Assert.Equal(0.0, map[ConstructedHeads.Local.Layer, ConstructedHeads.Local.Head], 6);
        Assert.All(map.Flat(), v => Assert.True(v <= 0.65 || v > 0.99));
    }

    [Fact]
    public void AttentionInfluenceMasksTheRetrievalHeadAndRanksDocumentsByHowMuchTheyLeanOnCopying()
    {
        HeadMap retrieval;
        using (var probe = Context()) retrieval = new RetrievalScore(prompts: 4).Compute(probe).Single();
        var tok = new CharTokenizer(words: 90);
        var w = (int from, int count) => Enumerable.Range(from, count).Select(tok.Word);
        // A span repeated whole, no repeat, a third of a span repeated: copying helps the first most and the second not at all.
        List<int[]> docs =
        [
            [1, .. w(0, 15), .. w(0, 15)],
            [1, .. w(15, 30)],
            [1, .. w(45, 15), .. w(45, 8), .. w(60, 7)],
        ];
        using var model = ConstructedHeads.Build(tok);
        using var ctx = new ProfileContext(model, tok, docs, seed: 1);
        ctx.Remember(retrieval);
        var map = new AttentionInfluenceScore().Compute(ctx).Single();
        Assert.Equal([ConstructedHeads.Copy], map.Ranked().Where(p => map[p.Layer, p.Head] == 1));
        Assert.Equal(1, map.Flat().Count(v => v != 0));
        Assert.Equal([0, 2, 1], map.Params!["ranking"]!.AsArray().Select(x => x!.GetValue<int>()));
        var influence = map.Params!["influence"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        for (int d = 0; d < docs.Count; d++)
        {
            double clean = MeanNll(model, docs[d]), masked = MeanNll(model, docs[d], ConstructedHeads.Copy);
            Assert.Equal((masked - clean) / clean, influence[d], 4);
        }
    }

    [Fact]
    public void AttentionInfluenceMasksTheRetrievalHeadsTogetherNotOneAtATime()
    {
        var tok = new CharTokenizer(words: 60);
        List<int[]> docs = [[1, .. Enumerable.Range(0, 15).Select(tok.Word), .. Enumerable.Range(0, 15).Select(tok.Word)],
                            [1, .. Enumerable.Range(15, 30).Select(tok.Word)]];
        using var model = ConstructedHeads.Build(tok, twinCopy: true);
        using var ctx = new ProfileContext(model, tok, docs, seed: 1);
        // Two copy heads that each write half the copy: masking either alone still copies (at half the logit), both not.
        var values = HeadMap.Zeros(ConstructedHeads.Layers, ConstructedHeads.Heads);
        values[ConstructedHeads.Copy.Layer][ConstructedHeads.Copy.Head] = 1.0;
        values[ConstructedHeads.CopyTwin.Layer][ConstructedHeads.CopyTwin.Head] = 1.0;
        ctx.Remember(new HeadMap("retrieval", values));
        var map = new AttentionInfluenceScore(share: 2.0 / 12).Compute(ctx).Single();
        Assert.Equal(2, map.Flat().Count(v => v == 1));
        var influence = map.Params!["influence"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        (int, int)[] both = [ConstructedHeads.Copy, ConstructedHeads.CopyTwin];
        double clean = MeanNll(model, docs[0]), together = MeanNll(model, docs[0], both);
        Assert.Equal((together - clean) / clean, influence[0], 4);
        double separately = both.Average(h => (MeanNll(model, docs[0], h) - clean) / clean);
        Assert.True(influence[0] > 10 * separately, $"together {influence[0]:F3} vs one at a time {separately:F3}");
    }

    /// <summary>Mean next-token NLL of one document, from the logits in plain loops, with <paramref name="masked"/> heads zeroed.</summary>
    internal static double MeanNll(HeadWise.Models.Transformer model, int[] doc, params (int Layer, int Head)[] masked)
    {
        var hooks = new HeadWise.Heads.HookSet();
        foreach (var m in masked) hooks.Add(HeadWise.Heads.Interventions.HeadAblation.Zero(m.Layer, m.Head));
        using var ids = TorchSharp.torch.tensor(doc.Select(x => (long)x).ToArray(), [1, doc.Length]);
        using var logits = model.Forward(ids, null, hooks);
        var all = logits.to_type(TorchSharp.torch.ScalarType.Float64).data<double>().ToArray();
        int v = (int)logits.shape[2];
        double sum = 0;
        for (int t = 0; t + 1 < doc.Length; t++)
        {
            var row = all.AsSpan(t * v, v).ToArray();
            double max = row.Max(), z = row.Sum(x => Math.Exp(x - max));
            sum += -(row[doc[t + 1]] - max - Math.Log(z));
        }
        return sum / (doc.Length - 1);
    }

    [Fact]
    public void AttentionInfluenceMasksTheTopShareOfHeadsThatRetrieveAtAll()
    {
        var retrieval = new HeadMap("retrieval", [[0.0, 0.9, 0.0, 0.2], [0.5, 0.0, 0.0, 0.0]]);
        Assert.Equal([(0, 1)], AttentionInfluenceScore.MaskedHeads(retrieval, 0.05)); // ceil(0.4) = 1 head
        Assert.Equal([(0, 1), (1, 0), (0, 3)], AttentionInfluenceScore.MaskedHeads(retrieval, 0.5)); // 4 wanted, 3 retrieve
        Assert.Empty(AttentionInfluenceScore.MaskedHeads(new HeadMap("retrieval", [[0.0, 0.0]]), 0.5));
    }

    [Fact]
    public void SensitivityIsZeroForOneHotAndSilentHeadsAndHighestForTheHeadTheLossReadsThrough()
    {
        using var ctx = Context();
        var map = new SensitivityScore().Compute(ctx).Single();
        // Sink and local heads attend one key: top-k keeps it, so neither error term exists. Idle heads write nothing:
        // no gradient reaches them. The copy head is the only path to the logits and spreads its attention on new tokens.
        Assert.Equal(ConstructedHeads.Copy, map.Ranked()[0]);
        Assert.True(map[ConstructedHeads.Copy.Layer, ConstructedHeads.Copy.Head] > 1e-6);
        foreach (var (l, h) in map.Ranked())
            if ((l, h) != ConstructedHeads.Copy && (l, h) != ConstructedHeads.Duplicate)
                Assert.True(map[l, h] < 1e-9, $"head {l}.{h}: {map[l, h]}");
        var a = map.Params!["attention_map_term"]!.AsArray();
        var o = map.Params!["head_output_term"]!.AsArray();
        var (cl, ch) = ConstructedHeads.Copy;
        double termA = a[cl]![ch]!.GetValue<double>(), termO = o[cl]![ch]!.GetValue<double>();
        Assert.True(termA > 0 && termO > 0, $"both terms: {termA}, {termO}");
        Assert.Equal(termA + termO, map[cl, ch], 9);
    }

    [Fact]
    public void ImportanceIsZeroForHeadsThatWriteNothingAndLargeForTheCopyCircuit()
    {
        var tok = new CharTokenizer(words: 15);
        var span = Enumerable.Range(0, 15).Select(tok.Word).ToArray();
        using var model = ConstructedHeads.Build(tok);
        using var ctx = new ProfileContext(model, tok, [[1, .. span, .. span], [1, .. span.Reverse(), .. span.Reverse()]], seed: 1);
        var maps = new ImportanceScore().Compute(ctx);
        var loss = maps[0];
        // Repeated spans: masking the copy head or the local head it reads previous tokens from breaks the second copy.
        Assert.True(loss[ConstructedHeads.Copy.Layer, ConstructedHeads.Copy.Head] > 1);
        Assert.True(loss[ConstructedHeads.Local.Layer, ConstructedHeads.Local.Head] > 1);
        foreach (var (l, h) in loss.Ranked())
            if ((l, h) != ConstructedHeads.Copy && (l, h) != ConstructedHeads.Local && (l, h) != ConstructedHeads.Duplicate)
            {
                Assert.Equal(0.0, loss[l, h], 6); // the sink and idle heads write nothing
                Assert.Equal(0.0, maps[1][l, h], 6);
            }
    }
}
