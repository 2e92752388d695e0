using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Models;
using HeadWise.Prompts;

namespace HeadWise.Tests.Analysis;

public sealed class NeedlePromptTests
{
    private static readonly List<int[]> Docs =
        Enumerable.Range(0, 2).Select(d => new[] { 1 }.Concat(Enumerable.Range(100 * (d + 1), 39)).ToArray()).ToList();

    [Fact]
    public void CopyPromptEndsWithTheNeedlesCueAndAsksForTheRest()
    {
        foreach (var p in NeedlePrompt.Build(Docs, count: 4, needleLength: 8, cue: 3, haystack: 20, seed: 2))
        {
            Assert.Equal(p.Needle, p.Prompt.Skip(p.NeedleStart).Take(8));
            Assert.Equal(p.Needle[..3], p.Prompt[^3..]);
            Assert.Equal(p.Needle[3..], p.Answer);
            Assert.Equal(20 + 8 + 3, p.Prompt.Length);
        }
    }

    [Fact]
    public void FactPromptAsksForOneOfItsFactsByItsCue()
    {
        var set = NeedlePrompt.BuildFacts(Docs, count: 8, facts: 3, factLength: 6, cue: 2, haystack: 20, seed: 2);
        var asked = new HashSet<int>();
        foreach (var p in set)
        {
            Assert.Equal(18, p.Needle.Length);
            Assert.Equal(p.Needle, p.Prompt.Skip(p.NeedleStart).Take(18));
            int fact = Enumerable.Range(0, 3).Single(f => p.Needle.Skip(6 * f).Take(2).SequenceEqual(p.Prompt[^2..]));
            asked.Add(fact);
            Assert.Equal(p.Needle.Skip(6 * fact + 2).Take(4), p.Answer);
        }
        Assert.True(asked.Count > 1, "the asked fact varies with the seed");
    }

    [Fact]
    public void AnswerRecallAndTokenF1MatchHandCounts()
    {
        Assert.Equal(2 / 3.0, RetrievalScore.AnswerRecall([5, 7, 7, 9], [5, 6, 7]), 9);
        Assert.Equal(0.5, RetrievalScore.AnswerRecall([7, 0], [7, 7]), 9); // each answer token is matched once
        // common = 2 (5, 7): precision 2/4, recall 2/3, F1 = 2 * 0.5 * 0.667 / 1.167 = 4/7.
        Assert.Equal(4 / 7.0, RetrievalReasoningScore.TokenF1([5, 7, 8, 9], [5, 6, 7]), 9);
        Assert.Equal(0.0, RetrievalReasoningScore.TokenF1([1, 2], [3]), 9);
    }

    [Fact]
    public void NamedFactPromptAsksAboutOneOfItsFactsAndAnswersWithItsActivity()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var probes = ProbeSet.FromText(ProbeSet.DefaultText, m.Tokenizer, 2, 64);
        var set = NeedlePrompt.BuildNamedFacts(probes, m.Tokenizer, count: 6, facts: 2, context: 512, seed: 3);
        var places = new HashSet<string>();
        foreach (var p in set)
        {
            string needle = m.Tokenizer.Decode(p.Needle), prompt = m.Tokenizer.Decode(p.Prompt), answer = m.Tokenizer.Decode(p.Answer).Trim();
            var asked = PromptWording.EvaluationFacts.Single(f => prompt.EndsWith(PromptWording.Fact.EvaluationForm.QuestionFor(f.Place)));
            places.Add(asked.Place);
            Assert.Equal(asked.Activity, answer);
            Assert.Contains(PromptWording.Fact.EvaluationForm.NeedleFor(asked.Place, asked.Activity), needle);
            Assert.Equal(2, PromptWording.EvaluationFacts.Count(f => needle.Contains(f.Place)));
            Assert.Equal(p.Needle, p.Prompt.Skip(p.NeedleStart).Take(p.Needle.Length));
            Assert.True(p.Prompt.Length + p.Answer.Length <= 512);
        }
        Assert.True(places.Count > 1, "the asked place varies with the seed");
    }

    [Fact]
    public void NamedFactPromptsRefuseAContextWithNoRoomForAHaystack()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var probes = ProbeSet.FromText(ProbeSet.DefaultText, m.Tokenizer, 2, 64);
        // Two facts, the question and its answer take more than 20 tokens of stories260K's vocabulary.
        var e = Assert.Throws<HeadWiseException>(() => NeedlePrompt.BuildNamedFacts(probes, m.Tokenizer, count: 1, facts: 2, context: 20, seed: 3));
        Assert.Equal("named-fact prompts: 2 facts, the question and its answer leave no room for a haystack in a 20-token context", e.Message);
    }

    [Fact]
    public void RetrievalReasoningWithATokenizerAsksNamedFactsAndSaysSo()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var probes = ProbeSet.FromText(ProbeSet.DefaultText, m.Tokenizer, 2, 64);
        using var ctx = new ProfileContext(m.Transformer, m.Tokenizer, probes, seed: 3);
        var map = new RetrievalReasoningScore(prompts: 2).Compute(ctx).Single();
        Assert.Equal("named facts in natural language", map.Params!["needles"]!.GetValue<string>());
        Assert.Equal(2, map.Params!["prompts"]!.GetValue<int>());
        // The prompts are the named-fact prompts of the same seed (not probe-text spans).
        var expected = NeedlePrompt.BuildNamedFacts(probes, m.Tokenizer, 2, 2, m.Spec.ContextLength, 3);
        Assert.Equal(expected.Max(p => p.Prompt.Length), map.Params!["prompt_tokens"]!.GetValue<int>());
    }
}
