using HeadWise.Eval;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in Metrics.ExactWords): niah's exact match is 1 when the output's words (lower-cased,
/// punctuation dropped) start with all the answer's words, as its summary says; expected values by hand.
/// </summary>
public class ExactWordsTests
{
    [Theory]
    [InlineData("Go fishing", "go fishing.", 1)]               // exactly the answer's words: as many as the answer has
    [InlineData("go fishing", "Go fishing at dawn", 1)]        // the answer's words, then more
    [InlineData("go fishing", "go home", 0)]                  // as many words, not the same
    [InlineData("go fishing", "home, go fishing", 0)]         // the words, but not at the start
    [InlineData("go fishing", "go", 0)]                       // fewer words than the answer
    [InlineData("", "anything", 0)]                           // no answer words: nothing to match
    public void Exact_words_is_one_only_when_the_output_starts_with_the_answers_words(string answer, string output, double expected) =>
        Assert.Equal(expected, Metrics.ExactWords(answer, output));
}
