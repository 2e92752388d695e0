using HeadWise.Eval;
using HeadWise.Models;
using HeadWise.Prompts;

namespace HeadWise.Tests.Prompts;

/// <summary>
/// The evaluation harness asks in the first phrasing of each <see cref="PromptWording"/> entry; the literal texts below are
/// the harness's prompts as its tables were measured with, so a change of wording fails here rather than silently
/// changing what the README's numbers mean.
/// </summary>
public class PromptWordingTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    private static string Prompt(string task)
    {
        var tok = Stories.Value.Tokenizer;
        var s = TaskRegistry.Create(task).Generate(tok, new TaskOptions { Lengths = [900], Depths = [0.5], Seed = 3, HaystackPath = TestPaths.MobyDick })[0];
        return tok.Decode(s.Tokens);
    }

    [Fact]
    public void Passkey_prompts_read_as_the_harness_asks_them()
    {
        var text = Prompt("passkey");
        Assert.StartsWith("There is a pass key hidden in this text. Find it and remember it. The grass is green.", text.TrimStart());
        Assert.Matches(@" The pass key is \d{5}\. Remember it\. ", text);
        Assert.EndsWith(" What is the pass key? The pass key is", text);
    }

    [Fact]
    public void Niah_and_multikey_prompts_read_as_the_harness_asks_them()
    {
        var niah = Prompt("niah");
        Assert.StartsWith("Read the text below and remember the facts hidden in it.", niah.TrimStart());
        Assert.Matches(@" The best thing to do in (San Francisco|Lisbon|Kyoto|Oslo|Cairo|Lima) is to [a-z ]+\. ", niah);
        Assert.Matches(@" What is the best thing to do in (San Francisco|Lisbon|Kyoto|Oslo|Cairo|Lima)\? The best thing to do in \1 is to$", niah);

        var multikey = Prompt("multikey");
        Assert.StartsWith("Some special magic numbers are hidden in the text below. Remember them.", multikey.TrimStart());
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(multikey, @" One of the special magic numbers for [a-z]+-[a-z]+ is: \d{7}\.").Count);
        Assert.Matches(@" What is the special magic number for ([a-z]+-[a-z]+) mentioned in the text\? The special magic number for \1 mentioned in the text is$", multikey);
    }

    [Fact]
    public void Every_wording_offers_training_more_phrasings_than_the_one_the_evaluation_asks_in()
    {
        foreach (var w in new[] { PromptWording.Passkey, PromptWording.MagicNumber, PromptWording.Keyed, PromptWording.Fact })
        {
            Assert.True(w.Forms.Count > 1 && w.Intros.Count > 1);
            Assert.All(w.Forms, f => Assert.Contains("{value}", f.Needle));
            Assert.All(w.Forms, f => Assert.DoesNotContain("{value}", f.Question));
        }
        var (before, after) = PromptWording.Fact.EvaluationForm.NeedleAround("Oslo");
        Assert.Equal(("The best thing to do in Oslo is to ", "."), (before, after));
    }
}
