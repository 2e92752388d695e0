using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (SampleRunner's scoring rules, BenchRunner's exact-match mean): the test models never answer a prompt word
/// for word, so here the answer text is scripted: the tokenizer decodes each sample's generated tokens as a text given
/// by the test (prompts are built by the real tokenizer). Expected scores by hand from the rules: passkey and multikey
/// score the first run of digits against the number; niah scores ROUGE-1 recall and reports exact words beside it.
/// </summary>
public class AnswerScoringTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Fact]
    public void Passkey_scores_the_first_number_in_the_output_not_its_words()
    {
        var m = Stories.Value;
        var task = TaskRegistry.Create("passkey");
        var o = new TaskOptions { Lengths = [120], Depths = [0.5], Samples = 2, Seed = 5 };
        var answers = task.Generate(m.Tokenizer, o).Select(s => s.Answer!).ToList();
        Assert.All(answers, a => Assert.Matches("^[0-9]+$", a));
        // The number after other words (exact number 1, exact words 0); a number before it (exact number 0, ROUGE-1 1).
        string[] outputs = [$"the pass key is {answers[0]}.", $"1 {answers[1]}"];
        var r = Run(m, task, o, outputs);
        Assert.Equal(outputs, r.Answers!.Select(a => a.Output));
        Assert.Equal([1.0, 0.0], r.Answers!.Select(a => a.Score));
        Assert.Equal(0.5, r.Accuracy);
        Assert.Equal(0.5, r.ExactMatch);
        Assert.Equal(1.0, r.Rouge1Recall);
    }

    [Fact]
    public void Niah_scores_rouge_and_reports_exact_words()
    {
        var m = Stories.Value;
        var task = TaskRegistry.Create("niah");
        var o = new TaskOptions { Lengths = [180], Depths = [0.5], Samples = 2, Seed = 4, HaystackPath = TestPaths.MobyDick };
        var answers = task.Generate(m.Tokenizer, o).Select(s => s.Answer!).ToList();
        Assert.All(answers, a => Assert.DoesNotMatch("[0-9]", a));
        Assert.True(answers[1].Split(' ').Length >= 2, answers[1]);
        // Exactly the answer (exact words 1, ROUGE-1 1); then its last word alone (exact words 0, ROUGE-1 1/k).
        string last = answers[1].Split(' ')[^1];
        string[] outputs = [answers[0], last];
        var r = Run(m, task, o, outputs);
        Assert.Equal(outputs, r.Answers!.Select(a => a.Output));
        double partial = HarnessIndependentCheckTests.HandScore(task.Generate(m.Tokenizer, o)[1], last);
        Assert.True(partial is > 0 and < 1, $"{partial}");
        Assert.Equal([1.0, partial], r.Answers!.Select(a => a.Score));
        Assert.Equal((1 + partial) / 2, r.Accuracy, 12);
        Assert.Equal((1 + partial) / 2, r.Rouge1Recall!.Value, 12);
        Assert.Equal(0.5, r.ExactMatch);
    }

    private static BenchResult Run(LoadedModel m, IEvalTask task, TaskOptions o, string[] outputs)
    {
        var scripted = new ScriptedAnswers(m.Tokenizer, outputs);
        var model = new LoadedModel(m.Path, m.Format, m.Transformer, scripted);   // shares m's weights: not disposed
        return BenchRunner.Run(model, task, o, new ArmingFactory(new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context), scripted));
    }

    /// <summary>The inner tokenizer, except that the first Decode after each cache is made returns the next scripted text.</summary>
    private sealed class ScriptedAnswers(ITokenizer inner, string[] outputs) : ITokenizer
    {
        private int _next;
        private bool _armed;
        public void Arm() => _armed = true;
        public string Kind => inner.Kind;
        public int VocabSize => inner.VocabSize;
        public int? BosId => inner.BosId;
        public int? EosId => inner.EosId;
        public bool AddBosByDefault => inner.AddBosByDefault;
        public IReadOnlyList<int> Encode(string text, bool addBos) => inner.Encode(text, addBos);
        public string TokenLabel(int id) => inner.TokenLabel(id);
        public string Decode(IEnumerable<int> ids)
        {
            if (!_armed) return inner.Decode(ids);
            _armed = false;
            return outputs[_next++];
        }
    }

    /// <summary>A factory that arms the scripted tokenizer as each sample's cache is made (after the prompts are built).</summary>
    private sealed class ArmingFactory(PolicyCacheFactory inner, ScriptedAnswers tokenizer) : IKvCacheFactory
    {
        public string Policy => inner.Policy;
        public KvBudget Budget => inner.Budget;
        public CompressMode Compress => inner.Compress;
        public long LengthLimit(ModelSpec spec) => inner.LengthLimit(spec);
        public IKvCache Create(LoadedModel model, int contextTokens)
        {
            tokenizer.Arm();
            return inner.Create(model, contextTokens);
        }
    }
}
