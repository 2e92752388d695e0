using System.Text.RegularExpressions;

namespace HeadWise.Eval;

/// <summary>Answer and text scores.</summary>
public static partial class Metrics
{
    /// <summary>1 when the first run of digits in <paramref name="output"/> is exactly the digits of <paramref name="answer"/>.</summary>
    public static double ExactNumber(string output, string answer)
    {
        var m = Digits().Match(output);
        return m.Success && m.Value == answer.Trim() ? 1 : 0;
    }

    /// <summary>
    /// ROUGE-1 recall: the share of the reference's words (lower-cased, punctuation dropped, counted with multiplicity)
    /// that also occur in the candidate.
    /// </summary>
    public static double Rouge1Recall(string reference, string candidate)
    {
        var refWords = Words(reference);
        if (refWords.Count == 0) return 0;
        var have = Words(candidate).GroupBy(w => w).ToDictionary(g => g.Key, g => g.Count());
        int hit = 0;
        foreach (var w in refWords)
            if (have.TryGetValue(w, out var n) && n > 0) { hit++; have[w] = n - 1; }
        return (double)hit / refWords.Count;
    }

    /// <summary>1 when the candidate's words start with all the reference's words.</summary>
    public static double ExactWords(string reference, string candidate)
    {
        var r = Words(reference);
        var c = Words(candidate);
        return r.Count > 0 && c.Count >= r.Count && r.SequenceEqual(c.Take(r.Count)) ? 1 : 0;
    }

    /// <summary>Perplexity from a total negative log-likelihood in nats over <paramref name="tokens"/> tokens.</summary>
    public static double Perplexity(double nllNats, long tokens) => Math.Exp(nllNats / tokens);

    /// <summary>Bits per UTF-8 byte of the scored text: tokenizer-independent.</summary>
    public static double BitsPerByte(double nllNats, long bytes) => nllNats / Math.Log(2) / bytes;

    private static List<string> Words(string s) =>
        [.. WordPattern().Matches(s.ToLowerInvariant()).Select(m => m.Value)];

    [GeneratedRegex(@"\d+")] private static partial Regex Digits();
    [GeneratedRegex(@"[\p{L}\p{N}']+")] private static partial Regex WordPattern();
}
