// Formats KRaft storage once per cluster id read from stdin, each time in a fresh log dir, with
// Kafka's own StorageTool (the code `kafka-storage.sh format` runs): one JVM, so 500 formats
// take seconds, not minutes. Prints "<id> <exit code>" per id.
//   java -cp <kafka libs>:<dir> FormatMany TEMPLATE.properties WORKDIR < ids
import java.io.*;
import java.nio.file.*;
import java.util.*;

public class FormatMany {
    public static void main(String[] args) throws Exception {
        List<String> template = Files.readAllLines(Paths.get(args[0]));
        Path work = Paths.get(args[1]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        String id;
        int n = 0;
        while ((id = in.readLine()) != null) {
            Path dir = work.resolve("run-" + n++);
            Files.createDirectories(dir);
            List<String> props = new ArrayList<>();
            for (String line : template) {
                if (!line.startsWith("log.dirs=") && !line.startsWith("metadata.log.dir=")) props.add(line);
            }
            props.add("log.dirs=" + dir.resolve("kraft"));
            Path conf = dir.resolve("server.properties");
            Files.write(conf, props);
            int code;
            try {
                code = kafka.tools.StorageTool.execute(
                    new String[] {"format", "--cluster-id", id, "--config", conf.toString()}, quiet);
            } catch (Throwable e) {
                code = 99;
                System.err.println(id + " " + e);
            }
            System.out.println(id + " " + code);
        }
    }
}
