from django.contrib import admin

from glocal.core.admin import UnscopedAdmin

from .models import CustomFieldDefinition, Entity, EntityGroup, EntityType, Membership, Organisation


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]


@admin.register(Entity)
class EntityAdmin(UnscopedAdmin):
    list_display = ["code", "name", "organisation", "entity_type", "depth", "is_active"]
    list_filter = ["organisation", "is_active"]
    search_fields = ["code", "name", "city"]
    readonly_fields = ["path", "depth"]


@admin.register(Membership)
class MembershipAdmin(UnscopedAdmin):
    list_display = ["user", "role", "entity", "organisation", "is_active"]
    list_filter = ["role", "organisation"]


admin.site.register(EntityType, UnscopedAdmin)
admin.site.register(EntityGroup, UnscopedAdmin)
admin.site.register(CustomFieldDefinition, UnscopedAdmin)
