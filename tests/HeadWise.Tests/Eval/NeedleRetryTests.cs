using System.Text.RegularExpressions;
using HeadWise.Eval;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's uncovered mutant NeedleTask.cs:32): a niah prompt holds its answer exactly once even when the
/// haystack text itself states answers. Two of the text's 20 sentences state all six evaluation facts' activities, so
/// about two prompts in five would hold the answer twice on a first draw; the task must draw again.
/// </summary>
public class NeedleRetryTests
{
    [Fact]
    public void A_niah_prompt_holds_its_answer_once_even_when_the_haystack_states_answers()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var path = Path.Combine(TestPaths.NewTempDir(), "spoilers.txt");
        var plain = Enumerable.Range(0, 18).Select(i => $"The grey sea was calm and quiet on the {(i % 2 == 0 ? "first" : "second")} long morning.");
        File.WriteAllText(path, string.Join(" ", plain.Take(5).Concat([
            "Some people like to eat a sandwich and sit in Dolores Park on a sunny day, or ride the old yellow tram up the hill at sunset, or walk through the bamboo forest early in the morning.",
            "Others swim in the cold fjord and then sit in a warm sauna, watch the boats on the river from a rooftop garden, and eat fresh ceviche at a small market stall by the sea.",
        ]).Concat(plain.Skip(5))));
        var task = TaskRegistry.Create("niah");
        var tooShort = Assert.Throws<HeadWiseException>(() => task.Generate(m.Tokenizer, new TaskOptions { Lengths = [20], HaystackPath = path })).Message;
        int fixedCount = int.Parse(Regex.Match(tooShort, @"alone take (\d+) tokens$").Groups[1].Value);
        var samples = task.Generate(m.Tokenizer, new TaskOptions { Lengths = [fixedCount + 40], Samples = 30, Seed = 5, HaystackPath = path });
        foreach (var s in samples)
        {
            var text = m.Tokenizer.Decode(s.Tokens);
            Assert.Equal(1, Regex.Matches(text, Regex.Escape(s.Answer!)).Count);
        }
    }
}
