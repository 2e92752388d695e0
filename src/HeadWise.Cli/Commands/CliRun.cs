using System.CommandLine;
using HeadWise;

namespace HeadWise.Cli.Commands;

/// <summary>
/// The one place the CLI reports a failure: `error: ` and one line on stderr. Bad input (a user error, a bad file, a
/// bad argument, an I/O failure) exits 1; anything else is a bug in HeadWise, exits 2 and says so.
/// HEADWISE_DEBUG=1 adds the stack trace.
/// </summary>
internal static class CliRun
{
    public const int BadInput = 1, Bug = 2;

    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            return Report(e);
        }
    }

    public static int Report(Exception e)
    {
        bool user = e is HeadWiseException or IOException or UnauthorizedAccessException;
        Console.Out.Flush();
        Fail(user ? e.Message
            : $"internal error ({e.GetType().Name}: {e.Message}). This is a bug in HeadWise: please report it with the command you ran " +
              "(HEADWISE_DEBUG=1 prints the stack trace)");
        if (Environment.GetEnvironmentVariable("HEADWISE_DEBUG") == "1") Console.Error.WriteLine(e);
        return user ? BadInput : Bug;
    }

    /// <summary>System.CommandLine's own parse errors, in the same one-line form, pointing at --help instead of printing it.</summary>
    public static int ParseErrors(ParseResult result)
    {
        var verb = string.Join(' ', Path(result.CommandResult.Command).Skip(1));
        var help = verb.Length == 0 ? "headwise --help" : $"headwise {verb} --help";
        Fail($"{string.Join("; ", result.Errors.Select(e => e.Message.TrimEnd('.')))} (see '{help}')");
        return BadInput;
    }

    private static IEnumerable<string> Path(Command command)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault()) names.Insert(0, c.Name);
        return names;
    }

    private static void Fail(string message) => Console.Error.WriteLine("error: " + ErrorText.OneLine(message));
}
