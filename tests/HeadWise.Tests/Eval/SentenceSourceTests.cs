using HeadWise.Eval.Tasks;

namespace HeadWise.Tests.Eval;

/// <summary>
/// The haystack's sentence rule on a text written for it (issue 23): a sentence is kept when it starts upper-case, has
/// no digit and has 3 to 40 words; underscores are spaces and runs of white space are one space.
/// </summary>
public class SentenceSourceTests
{
    private static string Words(int n) => "Word " + string.Join(" ", Enumerable.Repeat("word", n - 1)) + ".";

    private static string Write(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"headwise-sentences-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Only_capitalised_digit_free_sentences_of_3_to_40_words_are_kept()
    {
        string[] kept =
        [
            "The cat sat down.", "One two three.", Words(40), "The big dog ran.", "A b c!", "Is it raining?",
            "Call me Ishmael now.", "Some years ago I went.", "It was a cold day.", "Whenever I find myself grim.",
        ];
        string[] dropped = ["the cat sat down.", "He had 3 cats.", "Go home.", Words(41), "Only.", "Ten 10 ten ten."];
        var text = string.Join(" ", kept.Take(3).Concat(dropped.Take(3))) + " The_big  dog\n\tran. " +
                   string.Join("  ", dropped.Skip(3).Concat(kept.Skip(4)));
        var path = Write(text);
        try
        {
            var source = SentenceSource.FromFile(path);
            Assert.Equal(kept.Length, source.Count);
            Assert.Equal(kept, Enumerable.Range(0, source.Count).Select(i => source[i]));
            Assert.Equal(kept[1], source[kept.Length + 1]); // indices wrap around
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_text_with_fewer_than_ten_sentences_or_none_or_no_file_is_refused()
    {
        var path = Write(string.Join(" ", Enumerable.Range(0, 9).Select(_ => "The cat sat down.")) + " no capital here.");
        try
        {
            Assert.Equal($"haystack text {path} has only 9 usable sentences (need 10)",
                Assert.Throws<HeadWiseException>(() => SentenceSource.FromFile(path)).Message);
        }
        finally { File.Delete(path); }
        Assert.Equal($"haystack text {path} does not exist", Assert.Throws<HeadWiseException>(() => SentenceSource.FromFile(path)).Message);
        Assert.Equal("the haystack text has no usable sentences", Assert.Throws<HeadWiseException>(() => new SentenceSource([])).Message);
        var ten = Write(string.Join(" ", Enumerable.Range(0, 10).Select(_ => "The cat sat down.")));
        try { Assert.Equal(10, SentenceSource.FromFile(ten).Count); }
        finally { File.Delete(ten); }
    }
}
