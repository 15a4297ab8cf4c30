package dev.atelier.api;

import dev.atelier.api.auth.Role;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.Components;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.Operation;
import org.eclipse.microprofile.openapi.models.PathItem;
import org.eclipse.microprofile.openapi.models.media.Content;
import org.eclipse.microprofile.openapi.models.media.Schema;
import org.eclipse.microprofile.openapi.models.media.Schema.SchemaType;
import org.eclipse.microprofile.openapi.models.parameters.Parameter;
import org.eclipse.microprofile.openapi.models.responses.APIResponse;
import org.eclipse.microprofile.openapi.models.security.SecurityScheme;

/**
 * What the gateway's and the ledger's OpenAPI documents say alike, written once (#24): the bearer scheme and the role
 * each /api/** operation needs, the problem every error answers with, and the 4xx that every operation of a kind can
 * give. What only one operation gives (a 409, a 429) its resource declares; this fills in its problem body.
 * Registered with {@code mp.openapi.filter}, so it runs when the document is built.
 */
public class ApiDocument implements OASFilter {

    /**
     * The extension naming the role an operation needs. A resource sets it where a role above the method's least is
     * needed ({@code @Operation(extensions = @Extension(name = ROLE, value = "admin"))}); the rest get
     * {@link Role#leastFor}.
     */
    public static final String ROLE = "x-atelier-role";

    static final String BEARER = "bearer";
    static final String PROBLEM = "#/components/schemas/Problem";

    /** The answers every operation of a kind can give, by status: their name under components.responses, and why. */
    private record Common(String name, String description) {
    }

    private static final Map<String, Common> COMMON = Map.of(
            "400", new Common("BadRequest", "A bad parameter or body: `errors` names each bad field. A query parameter "
                    + "the operation does not take is one."),
            "401", new Common("Unauthorized", "No bearer token, or one this service does not know"),
            "403", new Common("Forbidden", "The token's role is not enough for this"),
            "404", new Common("NotFound", "Nothing has this id or name"),
            "413", new Common("ContentTooLarge", "The body is over the limit (16 MiB unless configured)"),
            "415", new Common("UnsupportedMediaType", "The body is not `application/json`"));

    /**
     * Query parameters whose type API.md fixes wherever they appear. The resources take them as text, so that a bad
     * value is a 400 naming it ({@link QueryParams}); the document gives their real type, so that a generated client
     * takes an int, not a string.
     */
    private static Schema convention(String parameter) {
        return switch (parameter) {
            case "limit" -> OASFactory.createSchema().addType(SchemaType.INTEGER).minimum(BigDecimal.ONE)
                    .maximum(BigDecimal.valueOf(Page.MAX_LIMIT)).defaultValue(Page.DEFAULT_LIMIT);
            case "after_seq" -> OASFactory.createSchema().addType(SchemaType.INTEGER).format("int64")
                    .minimum(BigDecimal.ZERO);
            case "since", "until" -> OASFactory.createSchema().addType(SchemaType.STRING).format("date-time");
            default -> null;
        };
    }

    @Override
    public void filterOpenAPI(OpenAPI document) {
        if (document.getComponents() == null) {
            document.setComponents(OASFactory.createComponents());
        }
        Components components = document.getComponents();
        components.addSecurityScheme(BEARER, OASFactory.createSecurityScheme().type(SecurityScheme.Type.HTTP)
                .scheme("bearer").description("A token configured as a `name:role:hex-sha256` entry "
                        + "(ATELIER_AUTH_TOKENS). The roles are `read`, `submit` and `admin`, each allowed all the one "
                        + "before it is and more; each operation names the least it needs."));
        components.addSchema("FieldError", object("A field that failed validation, named as the client wrote it")
                .addProperty("field", text("the field's path in the body or query").examples(List.of("jobs[2].model")))
                .addProperty("message", text("what is wrong with it").examples(List.of("is required")))
                .required(List.of("field", "message")));
        components.addSchema("Problem", object("An RFC 9457 problem: every error Atelier answers with has this shape")
                .addProperty("type", text("always `about:blank`: the status says what kind of error it is"))
                .addProperty("title", text("the status's reason phrase"))
                .addProperty("status", OASFactory.createSchema().addType(SchemaType.INTEGER)
                        .description("the HTTP status"))
                .addProperty("detail", text("what went wrong, for a person to read"))
                .addProperty("errors", OASFactory.createSchema().addType(SchemaType.ARRAY)
                        .description("one entry per bad field, for a validation failure (at most "
                                + Problem.MAX_ERRORS + "); absent otherwise")
                        .items(OASFactory.createSchema().ref("#/components/schemas/FieldError")))
                .required(List.of("type", "title", "status", "detail")));
        // the studio's own service: no licence is granted with it
        document.getInfo().license(OASFactory.createLicense().name("Proprietary").identifier("LicenseRef-Proprietary"));
        if (document.getPaths() != null) {
            document.getPaths().getPathItems().forEach((path, item) ->
                    item.getOperations().forEach((method, operation) -> describe(path, method, operation, components)));
        }
    }

    private static void describe(String path, PathItem.HttpMethod method, Operation operation,
                                 Components components) {
        if (operation.getParameters() != null) {
            operation.getParameters().stream().filter(p -> p.getIn() == Parameter.In.QUERY).forEach(p -> {
                Schema typed = convention(p.getName());
                if (typed != null) {
                    p.setSchema(typed);
                }
            });
        }
        if (path.startsWith("/api/")) {
            Object declared = operation.getExtensions() == null ? null : operation.getExtensions().get(ROLE);
            Role role = declared == null ? Role.leastFor(method.name()) : Role.parse(declared.toString());
            operation.addExtension(ROLE, role.wire());
            operation.setSecurity(List.of(OASFactory.createSecurityRequirement().addScheme(BEARER)));
            String description = operation.getDescription() == null ? "" : operation.getDescription() + " ";
            operation.setDescription(description + "Needs " + role.aToken() + ".");
            common(operation, components, "400"); // every /api/** operation rejects a query parameter it does not take
            common(operation, components, "401");
            if (role != Role.READ) {
                common(operation, components, "403");
            }
        } else if (operation.getSecurity() != null && !operation.getSecurity().isEmpty()) {
            // outside /api/**, what declares a scheme (the change stream's ticket)
            common(operation, components, "401");
        }
        if (path.contains("{")) {
            common(operation, components, "404");
        }
        if (operation.getRequestBody() != null) {
            common(operation, components, "413");
            common(operation, components, "415");
        }
        operation.getResponses().getAPIResponses().forEach((status, response) -> {
            if ((status.startsWith("4") || status.startsWith("5")) && response.getRef() == null) {
                asProblem(response);
            }
        });
    }

    /** Adds the common answer for this status, unless the operation declares its own; and the component, once. */
    private static void common(Operation operation, Components components, String status) {
        if (operation.getResponses().hasAPIResponse(status)) {
            return;
        }
        Common common = COMMON.get(status);
        if (components.getResponses() == null || !components.getResponses().containsKey(common.name())) {
            components.addResponse(common.name(), problem(common.description()));
        }
        operation.getResponses().addAPIResponse(status,
                OASFactory.createAPIResponse().ref("#/components/responses/" + common.name()));
    }

    /** An error a resource declares keeps its description and examples, and gets the problem's type and schema. */
    private static void asProblem(APIResponse response) {
        Content content = response.getContent() == null ? OASFactory.createContent() : response.getContent();
        var media = content.getMediaType(Problem.MEDIA_TYPE) == null
                ? OASFactory.createMediaType() : content.getMediaType(Problem.MEDIA_TYPE);
        content.getMediaTypes().keySet().stream().filter(type -> !type.equals(Problem.MEDIA_TYPE)).toList()
                .forEach(content::removeMediaType);
        content.addMediaType(Problem.MEDIA_TYPE, media.schema(OASFactory.createSchema().ref(PROBLEM)));
        response.setContent(content);
    }

    private static APIResponse problem(String description) {
        APIResponse response = OASFactory.createAPIResponse().description(description);
        asProblem(response);
        return response;
    }

    private static Schema object(String description) {
        return OASFactory.createSchema().addType(SchemaType.OBJECT).description(description);
    }

    private static Schema text(String description) {
        return OASFactory.createSchema().addType(SchemaType.STRING).description(description);
    }
}
